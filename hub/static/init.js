// Starts the GOV.UK Frontend components. A module script, so there is no inline script on
// any page and the Content-Security-Policy can forbid inline script outright.
import { initAll } from "./build/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();

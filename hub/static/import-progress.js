// A page with long work running in the background (the police download's import, the audit
// log's check): asks for the progress every few seconds and updates the page's live region in
// place (no page reload, which WCAG 2.2.1 forbids under the reader). Once the work has ended it
// stops and offers the result as a link (its text from data-done-text).
const PAUSE_MS = 3000;
const region = document.querySelector("[data-progress-url]");

async function poll() {
  let progress;
  try {
    const response = await fetch(region.dataset.progressUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(String(response.status));
    progress = await response.json();
  } catch {
    setTimeout(poll, PAUSE_MS * 3); // signed out or offline: try less often; "Check progress" still works
    return;
  }
  if (progress.finished) {
    const link = document.createElement("a");
    link.className = "govuk-link";
    link.href = window.location.pathname;
    link.dataset.testid = "see-summary";
    link.textContent = region.dataset.doneText || "See the summary and any row errors";
    region.replaceChildren(progress.text + " ", link);
    return;
  }
  if (region.textContent.trim() !== progress.text) region.textContent = progress.text;
  setTimeout(poll, PAUSE_MS);
}

if (region) setTimeout(poll, PAUSE_MS);

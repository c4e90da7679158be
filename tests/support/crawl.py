"""The demo a newcomer sees, crawled: every demo login (as `flask demo-data` prints them), its sign-in
as a person does, and a bounded breadth-first crawl of the same-origin links from its home page.
Shared by tests/test_demo_crawl.py (no page answers 500) and tests/test_every_page_cost.py (every
page's statements fixed); the module-scoped `demo` fixture is tests/conftest.py's."""

from __future__ import annotations

import re
from collections import Counter, deque
from html import unescape
from urllib.parse import urldefrag, urlsplit

from sqlalchemy import select

from hub import db
from hub.demo import DEMO_PASSWORD, DOMAIN, SCHOOLS, STAFF
from hub.models.auth import User
from tests.factories import csrf_token, next_code

#: How far from the home page, how many pages per login at most, and how many pages of one shape
#: (the same path but for its numbers, the same query keys): the 54th child's page tells little
#: the 12th did not, and the crawl of 30 logins must stay a test the suite can run.
DEPTH, CAP, PER_SHAPE = 3, 250, 6
#: Links a crawler must not follow: they end the session it is crawling with.
NOT_FOLLOWED = re.compile(r"^/auth/sign-out")
HREF = re.compile(r'<a\b[^>]*\bhref="([^"]+)"')


def _same_origin(base: str, href: str) -> str | None:
    href, _ = urldefrag(unescape(href))
    parts = urlsplit(href)
    if parts.scheme or parts.netloc:
        if parts.netloc not in ("localhost", "") or parts.scheme not in ("http", "https"):
            return None
        href = parts.path + (f"?{parts.query}" if parts.query else "")
    if not href:
        return None
    if not href.startswith("/"):
        href = base.rsplit("/", 1)[0] + "/" + href
    return href


def shape(url: str) -> str:
    """The page a URL is, whatever record: /mace/meetings/4?tab=x is /mace/meetings/N?tab."""
    path, _, query = url.partition("?")
    keys = sorted(part.split("=")[0] for part in query.split("&") if part)
    return re.sub(r"\d+", "N", path) + "?" + "&".join(keys)


def crawl(client, start: str = "/", per_shape: int = PER_SHAPE) -> dict[str, int]:
    """Breadth first from `start`: each page fetched once, its status; at most CAP pages and
    `per_shape` of each shape (the first found, breadth first)."""
    seen: dict[str, int] = {}
    queue = deque([(start, 0)])
    queued = {start}
    shapes: Counter[str] = Counter()
    while queue and len(seen) < CAP:
        url, depth = queue.popleft()
        response = client.get(url)
        seen[url] = response.status_code
        if depth >= DEPTH or response.mimetype != "text/html":
            continue
        for href in HREF.findall(response.get_data(as_text=True)):
            link = _same_origin(url.split("?")[0], href)
            if (link and link not in queued and not NOT_FOLLOWED.match(link) and not link.startswith("/static/")
                    and shapes[shape(link)] < per_shape):
                queued.add(link)
                shapes[shape(link)] += 1
                queue.append((link, depth + 1))
    return seen


def sign_in(app, client, email: str, secret: str) -> None:
    """Password then TOTP, as a person does. The app context is held only to read the account:
    the test client's requests each get their own (and their own `g`), as real requests do."""
    page = client.get("/auth/sign-in")
    response = client.post("/auth/sign-in", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                                  "email": email, "password": DEMO_PASSWORD})
    assert response.status_code == 302, email
    page = client.get("/auth/two-factor")
    with app.app_context():
        code = next_code(db.session().scalar(select(User.id).where(User.email == email)), secret)
    response = client.post("/auth/two-factor", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                                     "code": code})
    assert response.status_code == 302, email


def demo_logins() -> list[str]:
    """The demo's logins as its own list names them (the test checks the printed list matches)."""
    logins = [f"{local}@{DOMAIN}" for local, *_ in STAFF]
    for code, _name, _urn in SCHOOLS:
        slug = code.lower().split("-")[0]
        logins += [f"dsl.{slug}@{DOMAIN}", f"deputy.{slug}@{DOMAIN}"]
    return logins

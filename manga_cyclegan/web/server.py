"""The local web page's HTTP side (FastAPI): the page and its files, and the API the page itself uses.

    POST /api/colorize                      multipart `file` (one page), optional `hints` (JSON list of clicks
                                            {"x", "y", "color"[, "scope"]}) -> the colorized page, PNG
    POST /api/chapters/{id}/pages           multipart `file` (a page or a .cbz) -> {"added": [names], ...state}
    GET  /api/chapters/{id}                 {"pages": [{"name", "version", "ready"}], "colors": ["#rrggbb", ...]}
    GET  /api/chapters/{id}/pages/{n}/color.png, .../bw.png   page n (0-based) colorized / as dropped (in gray)
    POST /api/chapters/{id}/clicks          JSON {"page", "x", "y", "color"[, "scope"]} -> {"changed": [names], ...}
    POST /api/chapters/{id}/undo            takes the last click back -> {"changed": [names], ...}
    GET  /api/chapters/{id}/hints.json      the clicks as predict's hints file
    GET  /api/chapters/{id}/chapter.cbz     the chapter colorized

A chapter id is any 8-64 letters, digits, '-' or '_' the page picks (one per browser tab). With a token, every
/api call carries it (`X-Token` header or `?token=`). Errors answer JSON {"error": "..."} in plain words with a 4xx
status (5xx only when colorizing itself failed), never a traceback; the server keeps serving. One page is colorized
at a time (one lock over all chapters), so two tabs are served in turn, each its own chapter.
"""

from __future__ import annotations

import hmac
import json
import re
import shutil
import threading
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from manga_cyclegan.colorize.hints_file import HintsError, clicks_from, parse_color
from manga_cyclegan.io.outputs import encode_page
from manga_cyclegan.predict.sinks import OutputOptions
from manga_cyclegan.web.chapter import Chapter, UploadError

CHAPTER_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
STATIC = resources.files("manga_cyclegan.web") / "static"
STATIC_FILES = {"app.js": "text/javascript", "app.css": "text/css"}


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class Chapters:
    """The chapters of the server's tabs, each in its own folder under `root`."""

    def __init__(self, root: Path, colorizer, settings, options: OutputOptions, max_chapters: int = 64):
        self.root, self.colorizer, self.settings, self.options = root, colorizer, settings, options
        self.max_chapters = max_chapters
        self.chapters: dict[str, Chapter] = {}
        self.lock = threading.RLock()  # one colorization at a time, whichever tab asks

    def get(self, chapter_id: str, create: bool = False) -> Chapter:
        if not CHAPTER_ID.fullmatch(chapter_id):
            raise ApiError(400, "a chapter id is 8 to 64 letters, digits, '-' or '_'")
        if chapter_id not in self.chapters:
            if not create:
                raise ApiError(404, "no such chapter: drop a page first")
            if len(self.chapters) >= self.max_chapters:
                raise ApiError(429, "too many chapters open on this server: restart it to clear them")
            self.chapters[chapter_id] = Chapter(self.root / chapter_id, self.colorizer, self.settings, self.options)
        return self.chapters[chapter_id]


def state(chapter: Chapter, **extra) -> dict:
    return {"pages": chapter.state(), "colors": chapter.part_colors(), **extra}


def create_app(chapters: Chapters, token: str | None = None, max_upload_bytes: int = 64 << 20) -> FastAPI:
    app = FastAPI(title="manga-cyclegan", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def check_token(request: Request, call_next):
        if token and request.url.path.startswith("/api/"):
            given = request.headers.get("x-token") or request.query_params.get("token") or ""
            if not hmac.compare_digest(given.encode(), token.encode()):
                return JSONResponse({"error": "this server needs its token: open the address it printed, with "
                                              "?token=..."}, status_code=401)
        return await call_next(request)

    @app.exception_handler(ApiError)
    async def api_error(_request, error: ApiError):
        return JSONResponse({"error": error.message}, status_code=error.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request, error: StarletteHTTPException):
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code)

    @app.exception_handler(Exception)
    async def any_error(_request, error: Exception):
        return JSONResponse({"error": f"colorizing failed: {type(error).__name__}: {error}"}, status_code=500)

    async def read_upload(file: UploadFile) -> bytes:
        data = await file.read(max_upload_bytes + 1)
        if len(data) > max_upload_bytes:
            raise ApiError(413, f"{file.filename or 'the upload'} is larger than {max_upload_bytes >> 20} MiB "
                                f"(the server's max_upload_mb)")
        return data

    def guarded(action):
        """Run a chapter action under the lock; refused uploads and clicks are 400s with their message."""
        with chapters.lock:
            try:
                return action()
            except (UploadError, HintsError) as e:
                raise ApiError(400, str(e)) from None

    @app.get("/")
    def index():
        return Response((STATIC / "index.html").read_bytes(), media_type="text/html")

    @app.get("/static/{name}")
    def static(name: str):
        if name not in STATIC_FILES:
            raise ApiError(404, "no such file")
        return Response((STATIC / name).read_bytes(), media_type=STATIC_FILES[name])

    @app.post("/api/colorize")
    async def colorize(file: UploadFile = File(...), hints: str | None = Form(None)):
        data = await read_upload(file)
        clicks = []
        if hints:
            try:
                clicks = json.loads(hints)
            except json.JSONDecodeError as e:
                raise ApiError(400, f"hints is not JSON: {e.msg}") from None
            clicks = clicks_from({"page": clicks}, "hints")

        def run():
            chapter = Chapter(chapters.root / f"single_{threading.get_ident()}", chapters.colorizer,
                              chapters.settings, chapters.options)
            try:
                names = chapter.add(file.filename or "page.png", data)
                if len(names) != 1:
                    raise UploadError("give one page here (a chapter goes to /api/chapters/{id}/pages)")
                for c in clicks:
                    chapter.click(names[0], c.x, c.y, c.color, c.scope)
                return chapter.png(0)
            finally:
                shutil.rmtree(chapter.folder, ignore_errors=True)

        return Response(guarded(run), media_type="image/png")

    @app.post("/api/chapters/{chapter_id}/pages")
    async def add_pages(chapter_id: str, file: UploadFile = File(...)):
        data = await read_upload(file)

        def run():
            chapter = chapters.get(chapter_id, create=True)
            return state(chapter, added=chapter.add(file.filename or "", data))
        return guarded(run)

    @app.get("/api/chapters/{chapter_id}")
    def chapter_state(chapter_id: str):
        return guarded(lambda: state(chapters.get(chapter_id)))

    def page_index(chapter: Chapter, n: int) -> int:
        if not 0 <= n < len(chapter.pages):
            raise ApiError(404, f"no page {n} in this chapter")
        return n

    @app.get("/api/chapters/{chapter_id}/pages/{n}/color.png")
    def color_png(chapter_id: str, n: int):
        def run():
            chapter = chapters.get(chapter_id)
            return chapter.png(page_index(chapter, n))
        return Response(guarded(run), media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.get("/api/chapters/{chapter_id}/pages/{n}/bw.png")
    def bw_png(chapter_id: str, n: int):
        def run():
            chapter = chapters.get(chapter_id)
            return encode_page(chapter.bw(page_index(chapter, n)), "png")
        return Response(guarded(run), media_type="image/png")

    @app.post("/api/chapters/{chapter_id}/clicks")
    async def click(chapter_id: str, request: Request):
        try:
            body = await request.json()
            page, x, y = body["page"], body["x"], body["y"]
            color = parse_color(body["color"])
            scope = body.get("scope", "chapter")
        except (ValueError, KeyError, TypeError) as e:
            raise ApiError(400, f"a click is {{\"page\", \"x\", \"y\", \"color\"}}: {e}") from None
        if not (isinstance(x, int) and isinstance(y, int)) or scope not in ("chapter", "page", "region"):
            raise ApiError(400, "x and y are whole pixels of the page; scope is chapter, page or region")

        def run():
            chapter = chapters.get(chapter_id)
            try:
                chapter.index(page)
            except KeyError:
                raise ApiError(404, f"no page {page!r} in this chapter") from None
            return state(chapter, changed=chapter.click(page, x, y, color, scope))
        return guarded(run)

    @app.post("/api/chapters/{chapter_id}/undo")
    def undo(chapter_id: str):
        def run():
            chapter = chapters.get(chapter_id)
            return state(chapter, changed=chapter.undo())
        return guarded(run)

    @app.get("/api/chapters/{chapter_id}/hints.json")
    def hints_file(chapter_id: str):
        document = guarded(lambda: chapters.get(chapter_id).hints_json())
        return Response(json.dumps(document, indent=2), media_type="application/json",
                        headers={"Content-Disposition": 'attachment; filename="hints.json"'})

    @app.get("/api/chapters/{chapter_id}/chapter.cbz")
    def chapter_cbz(chapter_id: str):
        data = guarded(lambda: chapters.get(chapter_id).cbz())
        return Response(data, media_type="application/vnd.comicbook+zip",
                        headers={"Content-Disposition": 'attachment; filename="chapter.cbz"'})

    return app

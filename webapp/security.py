"""Security headers on every response: no inline scripts, no framing, no MIME sniffing."""
from urllib.parse import urlsplit


def content_security_policy(*image_base_urls: str | None) -> str:
    """Return the CSP: everything from this origin only, images also from their CDN hosts."""
    sources = [image_source(url) for url in image_base_urls if url]
    images = " ".join(["'self' data:", *filter(None, sources)])
    return ("default-src 'self'; script-src 'self'; style-src 'self'; "
            f"img-src {images}; object-src 'none'; base-uri 'self'; form-action 'self'; "
            "frame-ancestors 'none'")


def image_source(base_url: str) -> str | None:
    """Return the CSP source of a base URL: its scheme and host, the host alone when it is
    protocol-relative (//cdn.example/img: the page's own scheme), None for a path here."""
    parts = urlsplit(base_url)
    if not parts.netloc:
        return None  # /media or the like: on this site, which 'self' allows already
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme else parts.netloc


class SecurityHeaders:
    """Add the headers to every response, whoever made it: Flask, the page cache, WhiteNoise.

    The outermost WSGI layer, so that no response (a cached page, a 304, a static file, an
    error) can get past without them.
    """

    def __init__(self, wsgi_app, headers: list[tuple[str, str]]):
        self.wsgi_app = wsgi_app
        self.headers = headers

    def __call__(self, environ, start_response):
        def start_with_headers(status, headers, exc_info=None):
            present = {name.lower() for name, _ in headers}
            headers.extend(h for h in self.headers if h[0].lower() not in present)
            return start_response(status, headers, exc_info)
        return self.wsgi_app(environ, start_with_headers)


def init_app(app) -> None:
    """Wrap the app's WSGI stack, as its last layer, in the security headers."""
    policy = content_security_policy(app.config.get("IMAGE_BASE_URL"),
                                     app.config.get("THUMBNAIL_BASE_URL"))
    app.wsgi_app = SecurityHeaders(app.wsgi_app, [
        ("Content-Security-Policy", policy),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
    ])

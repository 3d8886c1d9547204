"""Security headers on every response: no inline scripts, no framing, no MIME sniffing."""
from urllib.parse import urlsplit


def content_security_policy(*image_base_urls: str | None) -> str:
    """Return the CSP: everything from this origin only, images also from their CDN hosts."""
    images = "'self' data:"
    for url in filter(None, image_base_urls):
        parts = urlsplit(url)
        images += f" {parts.scheme}://{parts.netloc}"
    return ("default-src 'self'; script-src 'self'; style-src 'self'; "
            f"img-src {images}; object-src 'none'; base-uri 'self'; form-action 'self'; "
            "frame-ancestors 'none'")


def init_app(app) -> None:
    """Register the after-request hook that adds the headers."""
    policy = content_security_policy(app.config.get("IMAGE_BASE_URL"),
                                     app.config.get("THUMBNAIL_BASE_URL"))

    @app.after_request
    def add_security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        return response

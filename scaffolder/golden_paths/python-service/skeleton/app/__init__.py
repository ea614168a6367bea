"""The ${{ values.name }} web service."""

import time

from flask import Flask, Response, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

SERVICE_NAME = "${{ values.name }}"

REQUESTS = Counter("http_requests_total", "HTTP requests answered", ["method", "path", "code"])
LATENCY = Histogram("http_request_duration_seconds", "Time to answer an HTTP request", ["method", "path"])


def create_app() -> Flask:
    app = Flask(SERVICE_NAME)

    @app.before_request
    def start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def record(response: Response) -> Response:
        # The route pattern, not the raw path, keeps the number of metric series bounded.
        path = request.url_rule.rule if request.url_rule else "unmatched"
        if path != "/metrics":
            REQUESTS.labels(request.method, path, str(response.status_code)).inc()
            LATENCY.labels(request.method, path).observe(time.perf_counter() - g.started)
        return response

    @app.get("/")
    def index() -> Response:
        return jsonify(service=SERVICE_NAME, message=f"Hello from {SERVICE_NAME}")

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> Response:
        return jsonify(status="ready")

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    return app

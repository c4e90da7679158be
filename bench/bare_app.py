"""The baseline for bench/http_throughput.py: the smallest Flask app."""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello"


@app.route("/health")
def health():
    return "ok"

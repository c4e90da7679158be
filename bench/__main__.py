"""`python -m bench` (or `make bench`): every benchmark in this folder, one after another."""

from bench import audit_log, http_throughput

if __name__ == "__main__":
    print("== Authenticated page vs bare Flask (2 gunicorn workers) ==")
    http_throughput.main([])
    print("\n== Audit log ==")
    audit_log.main([])

"""What the tests share that is neither a fixture nor a factory: builders of the worlds the tests
start from, sample files, fake servers, clocks. Modules here are not test modules: pytest collects
no test from them, and a test module imports from them (never from another test module)."""

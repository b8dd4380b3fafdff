#!/usr/bin/env python3
"""Runs Python unittests and prints their results as `go test -json` events.

`make test` pipes this through tools/testreport, so the Python tests are
counted, and their skips listed, with the Go ones:

    python3 scripts/unittest_json.py tools/evalsets
"""
import json
import sys
import time
import traceback
import unittest


def main():
    start_dir = sys.argv[1]
    package = f"{start_dir} (python)"
    out = sys.stdout

    def emit(action, test=None, output=None, elapsed=None):
        ev = {"Action": action, "Package": package}
        if test:
            ev["Test"] = test
        if output is not None:
            ev["Output"] = output
        if elapsed is not None:
            ev["Elapsed"] = round(elapsed, 3)
        print(json.dumps(ev), file=out, flush=True)

    class Result(unittest.TestResult):
        def name(self, test):
            return test.id()

        def startTest(self, test):
            super().startTest(test)
            self.t0 = time.monotonic()
            emit("run", self.name(test))

        def _end(self, test, action, text=""):
            for line in text.splitlines():
                emit("output", self.name(test), "    " + line + "\n")
            emit("output", self.name(test), f"--- {action.upper()}: {self.name(test)}\n")
            emit(action, self.name(test), elapsed=time.monotonic() - self.t0)

        def addSuccess(self, test):
            super().addSuccess(test)
            self._end(test, "pass")

        def addFailure(self, test, err):
            super().addFailure(test, err)
            self._end(test, "fail", "".join(traceback.format_exception(*err)))

        def addError(self, test, err):
            super().addError(test, err)
            self._end(test, "fail", "".join(traceback.format_exception(*err)))

        def addSkip(self, test, reason):
            super().addSkip(test, reason)
            self._end(test, "skip", f"{test.id()}: {reason}")

        def addExpectedFailure(self, test, err):
            super().addExpectedFailure(test, err)
            self._end(test, "pass")

        def addUnexpectedSuccess(self, test):
            super().addUnexpectedSuccess(test)
            self._end(test, "fail", "unexpected success")

    t0 = time.monotonic()
    emit("start")
    suite = unittest.defaultTestLoader.discover(start_dir)
    result = Result()
    # Whatever the tests print goes to stderr, so stdout stays JSON.
    sys.stdout = sys.stderr
    try:
        suite.run(result)
    finally:
        sys.stdout = out
    ok = result.wasSuccessful() and result.testsRun > 0
    if result.testsRun == 0:
        emit("output", output=f"no tests found under {start_dir}\n")
    emit("pass" if ok else "fail", elapsed=time.monotonic() - t0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Turn signoff's errors into one clear message and an exit code, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from contracts import errors


def run_guarded(func: Callable[[argparse.Namespace], int], ns: argparse.Namespace) -> int:
    """Call a command; map ``SignoffError`` to its exit code with a message on stderr."""
    try:
        return int(func(ns) or 0)
    except errors.SignoffError as exc:
        kind = {2: "error", 1: "refused", 3: "temporary failure (retrying may help)"}.get(
            exc.exit_code, "error"
        )
        print(f"signoff: {kind}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("signoff: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``signoff audit X | head``): not an error of ours. Point stdout at
        # devnull so the interpreter's final flush does not raise again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0

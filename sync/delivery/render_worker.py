"""The child process that builds one report's documents (sync.delivery.renderer): `python -m
sync.delivery.render_worker`.

It imports the document libraries first, while the parent has nothing to ask yet, then reads one pickled job
(name, content, arguments) from its standard input until end of file, writes the pickled result to its standard
output and exits at once: the interpreter's own shutdown (some 100 ms with these libraries loaded) is skipped, the
answer being written and flushed and nothing else left to save. An empty input (the parent quit, or stopped a
child it did not need) ends it quietly."""
from __future__ import annotations

import os
import pickle
import sys


def main() -> int:
    from sync.delivery import cda, pdf, xdm  # noqa: F401 - imported ahead of the job: the build waits for less
    from sync.delivery.renderer import JOBS

    request = sys.stdin.buffer.read()
    if not request:
        return 0
    job, content, kwargs = pickle.loads(request)
    result = JOBS[job](content, **kwargs)
    sys.stdout.buffer.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    os._exit(status)

"""Stopping a local model server waits until its processes are gone, not until init reaps them.

``LocalServer.stop`` kills the server's process group and waits until nothing of it runs (so its
port is free). A killed process stays a zombie until its parent reaps it, and the orphaned uvicorn's
parent is the machine's init, which may take a second or more: that wait was on the critical path
of every SRE step with a local staging server. But a process is gone only when all its threads are:
a multi-threaded server's main thread turns zombie first, its sockets open until the last thread
ends. The zombies here are real: children this test has not reaped, and a process whose main thread
ended with ``pthread_exit`` (Linux: the test reads /proc, as the code does).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from components import local_serving


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0]


def test_a_group_of_only_zombies_no_longer_runs() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        assert local_serving._group_runs(proc.pid)
        os.killpg(proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _state(proc.pid) != "Z":  # dead, not reaped: this test is its parent and has not waited
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.killpg(proc.pid, 0)  # the signal still finds the group
        assert not local_serving._group_runs(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert not local_serving._group_runs(proc.pid)


def test_a_group_with_one_live_member_runs() -> None:
    """The leader gone (a zombie), a child of it still running: the group runs (it may hold the port)."""
    code = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    )
    leader = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while len([p for p in Path("/proc").glob("[0-9]*/stat") if _pgrp(p) == leader.pid]) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(leader.pid, signal.SIGKILL)
        while _state(leader.pid) != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert local_serving._group_runs(leader.pid)
    finally:
        os.killpg(leader.pid, signal.SIGKILL)
        leader.wait()


def _pgrp(stat: Path) -> int | None:
    try:
        return int(stat.read_text(encoding="ascii").rsplit(")", 1)[1].split()[2])
    except (OSError, ValueError):
        return None


_ZOMBIE_LEADER = """
import ctypes, socket, sys, threading, time
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
print(server.getsockname()[1], flush=True)
threading.Thread(target=time.sleep, args=(60,)).start()
ctypes.CDLL(None).pthread_exit(None)  # the main thread ends; the process (and its socket) lives on
"""


def test_a_process_whose_main_thread_is_a_zombie_still_runs() -> None:
    """What a killed multi-threaded uvicorn looks like for a moment: its main thread a zombie, another
    thread still alive, its listening socket still open. It counts as running."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _ZOMBIE_LEADER], start_new_session=True, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        deadline = time.monotonic() + 10
        while _state(proc.pid) != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # the port still takes connections
        assert local_serving._group_runs(proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not local_serving._group_runs(proc.pid)

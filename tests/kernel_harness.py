"""A stand-in for the kernel's event loop in plain pytest, and a guard that catches widget changes
made off the kernel thread.

``KernelHarness`` owns a real asyncio loop on the test's (main) thread, as ipykernel does: widgets
built inside ``run()`` capture it, and ``until()`` runs the loop so the hand-backs and the shared
job follower fire, exactly as they would between cells of a notebook.

``ThreadGuard`` wraps ``ipywidgets.Widget.notify_change`` (called for every trait change of every
widget) and records each change made on a thread other than the main one.
"""

from __future__ import annotations

import asyncio
import threading
import time

import ipywidgets


class KernelHarness:
    def __init__(self):
        self.loop = asyncio.new_event_loop()

    def run(self, fn, *args, **kwargs):
        """Call ``fn`` inside the running loop (a cell executing in the kernel) and return its result."""

        async def cell():
            return fn(*args, **kwargs)

        return self.loop.run_until_complete(cell())

    def until(self, predicate, timeout: float = 60.0) -> bool:
        """Run the loop until ``predicate()`` is true (checked on the loop) or ``timeout`` passes."""

        async def idle():
            deadline = time.monotonic() + timeout
            while not predicate():
                if time.monotonic() > deadline:
                    return False
                await asyncio.sleep(0.02)
            return True

        return self.loop.run_until_complete(idle())

    def close(self) -> None:
        self.loop.close()


class ThreadGuard:
    def __init__(self):
        self.off_thread: list[tuple[str, str, str]] = []
        self._original = ipywidgets.Widget.notify_change

    def __enter__(self):
        guard = self

        def notify_change(widget, change):
            if threading.current_thread() is not threading.main_thread():
                guard.off_thread.append((type(widget).__name__, change["name"], threading.current_thread().name))
            return guard._original(widget, change)

        ipywidgets.Widget.notify_change = notify_change
        return self

    def __exit__(self, *exc):
        ipywidgets.Widget.notify_change = self._original

"""Widgets are only ever changed on the kernel's own thread.

ipywidgets sends every trait change over the kernel's comm from the thread that made it; on
ipykernel 7 a change made from a worker thread can be lost or sent out of order (this is what
broke thread-driven widgets for others). So:

- long work (publishing, loading code, cancelling a job) runs on a worker thread, and its result
  is handed back to the kernel's event loop with ``loop.call_soon_threadsafe``; only that
  hand-back touches widgets (``Background``);
- JobView / RunView follow their jobs through ONE periodic callback on the kernel loop shared by
  every open view (``follow``), not a polling thread per view.

The loop is captured on the kernel thread when a widget is built (``KernelLoop.here()``). Outside
a kernel (a plain Python script or test) there is no running loop: long work then runs
synchronously and views refresh when ``update()`` / ``wait()`` is called.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref

log = logging.getLogger("gallery_widgets.widgets")

FOLLOW_INTERVAL = 0.5  # seconds between two refreshes of the views following jobs


def _kernel_asyncio_loop():
    """The running asyncio loop of this thread, else the IPython kernel's (ipykernel 6 and 7)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    try:  # a cell normally runs inside the kernel's loop; this covers frontends that do not
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        io_loop = getattr(kernel, "io_loop", None)
        loop = getattr(io_loop, "asyncio_loop", None)
        if loop is not None and loop.is_running() and threading.current_thread() is threading.main_thread():
            return loop
    except Exception:  # noqa: BLE001 - no IPython, or one without a kernel: no loop
        log.debug("no IPython kernel loop", exc_info=True)
    return None


class KernelLoop:
    """The event loop of the thread that builds the widgets (the kernel thread), or none."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None, thread: threading.Thread):
        self.loop = loop
        self.thread = thread

    @classmethod
    def here(cls) -> KernelLoop:
        """Capture the current thread and its running loop (call it on the kernel thread)."""
        return cls(_kernel_asyncio_loop(), threading.current_thread())

    @property
    def on_kernel_thread(self) -> bool:
        return threading.current_thread() is self.thread

    @property
    def usable(self) -> bool:
        return self.loop is not None and not self.loop.is_closed()

    def call(self, callback, *args) -> None:
        """Run ``callback(*args)`` on the kernel thread: now if we are on it, else through the loop."""
        if self.on_kernel_thread:
            callback(*args)
        elif self.usable:
            self.loop.call_soon_threadsafe(callback, *args)
        else:  # the loop is gone (kernel shutting down): drop the update rather than touch a widget here
            log.debug("kernel loop closed; dropped %r", callback)


class Background:
    """``work()`` off the kernel thread, then ``on_done(result)`` / ``on_error(exc)`` on it.

    Without a kernel loop the work runs synchronously. ``join()`` (called on the kernel thread by
    ``wait()`` methods and tests) waits for the worker and delivers the result at once, so the
    caller sees the finished state; the loop's queued hand-back then does nothing.
    """

    def __init__(self, kernel: KernelLoop, work, on_done, on_error):
        self.kernel = kernel
        self._work, self._on_done, self._on_error = work, on_done, on_error
        self._outcome = None
        self._delivered = False
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None
        if kernel.usable:
            self._thread = threading.Thread(target=self._run, name="gw-background", daemon=True)
            self._thread.start()
        else:
            self._run()

    def _run(self) -> None:
        try:
            self._outcome = (True, self._work())
        except Exception as exc:  # reported to the widget, never raised into the kernel
            self._outcome = (False, exc)
        self._finished.set()
        self.kernel.call(self._deliver)

    def _deliver(self) -> None:
        with self._lock:
            if self._delivered:
                return
            self._delivered = True
        ok, value = self._outcome
        (self._on_done if ok else self._on_error)(value)

    def is_alive(self) -> bool:
        return not self._delivered

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the work; on the kernel thread also deliver its result now. True when delivered."""
        if not self._finished.wait(timeout):
            return False
        if self.kernel.on_kernel_thread:
            self._deliver()
        return self._delivered


class _Follower:
    """One periodic callback on a kernel loop refreshing every view that follows a job or run."""

    def __init__(self, kernel: KernelLoop):
        self.kernel = kernel
        self.views: weakref.WeakSet = weakref.WeakSet()
        self.handle = None
        self.ticks = 0  # how many times the shared callback ran (tests read it)

    def add(self, view) -> None:
        self.views.add(view)
        if self.handle is None:
            self.handle = self.kernel.loop.call_later(view.poll_interval, self._tick)

    def _tick(self) -> None:
        self.handle = None
        self.ticks += 1
        for view in list(self.views):
            try:
                view.update()
            except Exception:  # noqa: BLE001 - one broken view must not stop the others
                log.exception("could not refresh %r", view)
            if view.finished or view.closed:
                self.views.discard(view)
        # A view added during this tick (a RunView's step starting its JobView) has already
        # scheduled the next tick through add(): scheduling another would start a second chain
        # of ticks, and every such add would double the refreshes.
        if self.views and self.kernel.usable and self.handle is None:
            interval = min(getattr(v, "poll_interval", FOLLOW_INTERVAL) for v in self.views)
            self.handle = self.kernel.loop.call_later(interval, self._tick)


_followers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def follow(view, kernel: KernelLoop) -> _Follower | None:
    """Refresh ``view`` (it has ``update()``, ``finished``, ``closed``, ``poll_interval``) from the
    kernel loop until it has finished; None when there is no loop (call ``update()`` yourself)."""
    if not kernel.usable:
        return None
    follower = _followers.get(kernel.loop)
    if follower is None:
        follower = _followers[kernel.loop] = _Follower(kernel)
    if kernel.on_kernel_thread:
        follower.add(view)
    else:
        kernel.loop.call_soon_threadsafe(follower.add, view)
    return follower


def follower_for(loop) -> _Follower | None:
    """The shared follower of ``loop`` (for tests and diagnostics)."""
    return _followers.get(loop)

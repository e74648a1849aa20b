"""ConnectionGuard: which connections it closes (no progress past a limit) and which it keeps (progress, or the
server itself busy or not reading)."""
from pyregistry.server import ConnectionGuard


class Content:
    def __init__(self, received=0, eof=False):
        self.total_bytes, self.eof = received, eof

    def is_eof(self):
        return self.eof


class Transport:
    def __init__(self, reading=True):
        self.reading = reading

    def is_reading(self):
        return self.reading


class Request:
    def __init__(self, content):
        self.content = content


class Waiter:
    """A pending future, as RequestHandler._waiter is while it waits for a request head."""

    def done(self):
        return False


class Handler:
    """The RequestHandler attributes the guard reads."""

    def __init__(self, waiting=False, content=None, reading=True):
        self._waiter = Waiter() if waiting else None
        self._request_count = 0
        self._current_request = Request(content) if content is not None else None
        self.transport = Transport(reading)
        self.closed = False

    def force_close(self):
        self.closed = True


class Server:
    def __init__(self, *handlers):
        self.connections = list(handlers)


def test_closes_only_connections_without_progress():
    idle = Handler(waiting=True)
    chatty = Handler(waiting=True)  # requests keep arriving: its count moves
    stalled_body = Handler(content=Content(10))
    flowing_body = Handler(content=Content(10))
    paused = Handler(content=Content(10), reading=False)  # the server stopped reading: not the client's fault
    whole_body = Handler(content=Content(10, eof=True))  # body read, the server works
    guard = ConnectionGuard(Server(idle, chatty, stalled_body, flowing_body, paused, whole_body), header_timeout=5, body_timeout=5)
    assert guard.sweep(100.0) == 0
    for now in (103.0, 106.0):
        chatty._request_count += 1
        flowing_body._current_request.content.total_bytes += 1
        closed = guard.sweep(now)
    assert closed == 2 and idle.closed and stalled_body.closed
    assert not any(h.closed for h in (chatty, flowing_body, paused, whole_body))


def test_interval_is_a_quarter_of_the_shortest_timeout_within_bounds():
    assert ConnectionGuard(Server(), 60, 8).interval == 2
    assert ConnectionGuard(Server(), 0.1, 60).interval == 0.1
    assert ConnectionGuard(Server(), 600, 600).interval == 5

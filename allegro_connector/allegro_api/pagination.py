"""Generic pagination helpers: offset/limit lists, lists paged by time and id
cursors (event journals)."""

from datetime import timedelta

SMALLEST_WINDOW = timedelta(seconds=1)  # a window is not split below this


def id_sort_key(value):
    """Order ids numerically when they are all digits, else as strings.

    Numeric ids sort before non-numeric ones, so the key is total.
    """
    text = str(value)
    if text.isdigit():
        return (0, int(text), "")
    return (1, 0, text)


def iter_offset(fetch_page, items_key, page_size, offset=0, max_pages=None, key=None):
    """Yield items of an offset/limit paginated list.

    :param fetch_page: ``fetch_page(offset, limit) -> dict`` with the items
        under ``items_key`` and, ideally, ``totalCount``.
    :param key: ``key(item)`` identity; an item seen on an earlier page is
        skipped (the list can shift while it is read, e.g. a new order at the
        top of a list sorted by ``-lineItems.boughtAt``).
    Stops at ``totalCount``, on an empty page, on a short page when there is
    no ``totalCount``, or after ``max_pages`` pages.  ``ceil(total / page_size)``
    requests are made when ``totalCount`` is present.
    """
    pages = 0
    seen = set()
    while True:
        page = fetch_page(offset=offset, limit=page_size) or {}
        pages += 1
        items = page.get(items_key) or []
        for item in items:
            if key is not None:
                identity = key(item)
                if identity is not None:
                    if identity in seen:
                        continue
                    seen.add(identity)
            yield item
        offset += len(items)
        total = page.get("totalCount")
        if not items:
            return
        if total is not None:
            try:
                if offset >= int(total):
                    return
            except (TypeError, ValueError):
                total = None
        if total is None and len(items) < page_size:
            return
        if max_pages is not None and pages >= max_pages:
            return


def iter_by_time(fetch_page, items_key, page_size, since, moment, key):
    """Yield the items of a list sorted by a time, oldest first, each page
    asked from the last time seen instead of at an offset.

    An item changed while the list is read moves to its end, where it is read
    again as it is now; at an offset it would shift an item not read yet onto
    a page read already.

    :param fetch_page: ``fetch_page(since, offset, limit) -> dict`` with the
        items from ``since`` on (inclusive) under ``items_key``.
    :param moment: ``moment(item)``, the time the list is sorted by.
    :param key: ``key(item)`` identity; an item already yielded at the same
        moment (a page starts where the previous one ended) is skipped.
    The offset only moves past a full page whose items all share one moment.
    """
    seen = set()
    offset = 0
    while True:
        items = (fetch_page(since=since, offset=offset, limit=page_size) or {}).get(items_key) or []
        for item in items:
            mark = (key(item), moment(item))
            if mark not in seen:
                seen.add(mark)
                yield item
        if len(items) < page_size:
            return
        last = moment(items[-1]) or since
        if last == since:
            offset += len(items)
        else:
            since, offset = last, 0


class CursorIterator:
    """Iterate over an id-cursor journal (``/order/events``, ``/sale/offer-events``).

    Each page is requested with ``from`` = the highest id seen so far.  Events
    of a page are yielded in id order; an id already yielded is skipped (the
    journal may repeat or reorder events).  :attr:`cursor` is the highest id
    yielded so far, i.e. the value to store and pass as ``from`` next time;
    it never moves backwards.

    With ``ordered_ids=False`` (opaque ids, e.g. ``/sale/offer-events``) the
    journal's own order is kept and the cursor is the last id read.

    The iteration stops on an empty page, a page shorter than ``limit``, a page
    that does not move the cursor forward (a server ignoring ``from`` cannot
    make it loop forever) or after ``max_pages`` pages.

    :param fetch_page: ``fetch_page(from_id, limit) -> dict``.
    """

    def __init__(self, fetch_page, items_key, from_id=None, limit=100, max_pages=None, id_getter=None,
                 ordered_ids=True):
        self._fetch_page = fetch_page
        self._items_key = items_key
        self._limit = limit
        self._max_pages = max_pages
        self._id = id_getter or (lambda item: item.get("id"))
        self._ordered = ordered_ids
        self.cursor = from_id
        self.pages = 0
        self.count = 0
        self._seen = set()
        self._gen = self._generate()

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._gen)

    def _advance(self, item_id):
        if not self._ordered or self.cursor is None or id_sort_key(item_id) > id_sort_key(self.cursor):
            self.cursor = item_id

    def _generate(self):
        while True:
            if self._max_pages is not None and self.pages >= self._max_pages:
                return
            request_from = self.cursor
            page = self._fetch_page(from_id=request_from, limit=self._limit) or {}
            self.pages += 1
            items = page.get(self._items_key) or []
            with_ids = [item for item in items if self._id(item) is not None]
            if self._ordered:
                with_ids.sort(key=lambda item: id_sort_key(self._id(item)))
            for item in with_ids:
                item_id = str(self._id(item))
                if item_id in self._seen:
                    continue
                self._seen.add(item_id)
                self._advance(self._id(item))
                self.count += 1
                yield item
            if not items or len(items) < self._limit:
                return
            if not self._ordered:
                if self.cursor == request_from:
                    return
                continue
            page_max = max((self._id(i) for i in with_ids), key=id_sort_key, default=None)
            if page_max is None or (
                    request_from is not None and id_sort_key(page_max) <= id_sort_key(request_from)):
                return


def iter_newest_first(fetch_page, items_key, page_size, gte, lte, moment, key, max_offset, split=None):
    """Yield each item of a list sorted newest first, in ``[gte, lte]``, once,
    however long the list and whatever arrives while it is read.

    An item arriving meanwhile is newer: it pushes the rest down, so a page
    repeats items of the one before, never skips one (``key`` drops repeats).
    When the next offset would pass ``max_offset``, the window's upper bound
    moves to the oldest time read and the offset restarts at 0; the items at
    that time are read again and dropped.

    :param fetch_page: ``fetch_page(gte, lte, offset, limit) -> dict``.
    :param split: ``split(error) -> bool``: the error says the window holds
        too many items; its newer half is read first, then its older half.
        ``lte`` must then be given (the split needs both bounds).
    Items come newest first within a window; a reader keeping a mark should
    move it only once the iteration ended.
    """
    seen = set()
    windows = [(gte, lte)]
    while windows:
        low, high = windows.pop()
        offset = 0
        while True:
            try:
                items = (fetch_page(low, high, offset, page_size) or {}).get(items_key) or []
            except Exception as error:
                if offset or split is None or not split(error) or high - low < SMALLEST_WINDOW:
                    raise
                middle = low + (high - low) / 2
                windows += [(low, middle), (middle, high)]
                break
            for item in items:
                identity = key(item)
                if identity is None or identity not in seen:
                    seen.add(identity)
                    yield item
            if len(items) < page_size:
                break
            offset += len(items)
            if offset > max_offset:
                oldest = moment(items[-1])
                if oldest is None or oldest == high:
                    raise RuntimeError("More than %d items share the time %s" % (max_offset, oldest))
                high, offset = oldest, 0


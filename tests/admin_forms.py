"""Submit an admin page's form the way a browser would: every field as it was rendered."""

from html.parser import HTMLParser


class _FormFields(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._select_first: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields[name] = a.get("value", "on")
                return
            self.fields[name] = a.get("value", "")
        elif tag == "select" and name:
            self._select, self._select_first = name, None
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
                self.fields.setdefault(self._select, value)
            if "selected" in a:
                self.fields[self._select] = value
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_data(self, data):
        if self._textarea:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.fields[self._textarea] = "".join(self._text).lstrip("\n")
            self._textarea = None


def rendered_fields(html: str) -> dict[str, str]:
    parser = _FormFields()
    parser.feed(html)
    # The admin renders an empty template row per inline ("__prefix__"); a browser posts it too,
    # but it is ignored by the formset; leaving it out keeps the data readable.
    return {k: v for k, v in parser.fields.items() if "__prefix__" not in k}


def submit(client, url: str, changes: dict[str, str] | None = None, **extra):
    """GET the page, keep every rendered value, apply `changes`, POST it back."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    data = rendered_fields(response.content.decode())
    data.update(changes or {})
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(url, data, **extra)


def add_inline_row(data: dict, prefix: str, row: dict[str, str]) -> dict:
    """Fill the next empty row of an inline formset (as clicking "Add another" would)."""
    index = int(data.get(f"{prefix}-TOTAL_FORMS", 0))
    data[f"{prefix}-TOTAL_FORMS"] = str(index + 1)
    for key, value in row.items():
        data[f"{prefix}-{index}-{key}"] = value
    return data


def form_errors(response) -> str:
    """The error lists of a re-rendered admin form, for assertion messages."""
    html = response.content.decode()
    start = html.find('class="errornote"')
    return html[start : start + 3000] if start >= 0 else "(no errornote)"

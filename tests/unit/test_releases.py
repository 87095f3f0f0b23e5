"""Listing a package's releases from the sources uv installs from: a PEP 503 page (a file:// mirror), the
PEP 691 JSON answer of an HTTP index, a find-links folder; yanked files, pre-releases and errors."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from packaging.version import Version

from keras_drift.envs import releases
from keras_drift.envs.releases import PYPI_SIMPLE, Release, Source
from keras_drift.errors import InputError

PAGE = """<!DOCTYPE html><html><body>
<a href="../../files/foo_bar-1.0.tar.gz#sha256=00">foo_bar-1.0.tar.gz</a>
<a href="../../files/foo_bar-1.1-py3-none-any.whl" data-yanked="">foo_bar-1.1-py3-none-any.whl</a>
<a href="../../files/foo_bar-1.1.tar.gz">foo_bar-1.1.tar.gz</a>
<a href="../../files/foo_bar-1.2-py3-none-any.whl" data-yanked="broken wheel">foo_bar-1.2-py3-none-any.whl</a>
<a href="../../files/foo_bar-1.3rc1.tar.gz">foo_bar-1.3rc1.tar.gz</a>
<a href="../../files/foo_bar-1.3.dev0.tar.gz">foo_bar-1.3.dev0.tar.gz</a>
<a href="../../files/foo_bar-1.4+cpu.tar.gz">foo_bar-1.4+cpu.tar.gz</a>
<a href="../../files/other-1.5.tar.gz">other-1.5.tar.gz</a>
<a href="../../files/foo_bar-2.0.tar.gz">foo_bar-2.0.tar.gz</a>
</body></html>"""


@pytest.fixture
def file_index(tmp_path: Path) -> Source:
    (tmp_path / "simple" / "foo-bar").mkdir(parents=True)
    (tmp_path / "simple" / "foo-bar" / "index.html").write_text(PAGE)
    return Source((tmp_path / "simple").as_uri(), "UV_EXTRA_INDEX_URL")


def test_a_pep_503_page_lists_every_version_a_file_is_named_with(file_index):
    listed = releases.list_releases("Foo.Bar", [file_index])  # the name is normalised as the index does
    assert [str(r.version) for r in listed] == ["1.0", "1.1", "1.2", "1.3.dev0", "1.3rc1", "1.4+cpu", "2.0"]
    # 1.1 has a file that is not yanked, so it is not; every file of 1.2 is
    assert [str(r.version) for r in listed if r.yanked] == ["1.2"]


def test_between_keeps_final_releases_in_the_order_from_good_to_bad(file_index):
    listed = releases.list_releases("foo-bar", [file_index])
    assert releases.between(listed, Version("1.0"), Version("2.0")) == [Version("1.1")]  # no yanked, pre, dev or local
    assert releases.between(listed, Version("1.0"), Version("2.0"), pre=True) == [Version("1.1"), Version("1.3.dev0"), Version("1.3rc1")]
    assert releases.between(listed, Version("2.0"), Version("1.0"), pre=True) == [Version("1.3rc1"), Version("1.3.dev0"), Version("1.1")]


def test_an_http_index_is_read_in_its_json_form_and_a_find_links_folder_by_its_file_names(tmp_path):
    answer = {"meta": {"api-version": "1.1"}, "name": "foo-bar", "versions": ["1.0", "1.1", "1.2"], "files": [
        {"filename": "foo_bar-1.0.tar.gz", "url": "x", "hashes": {}},
        {"filename": "foo_bar-1.1.tar.gz", "url": "x", "hashes": {}, "yanked": True},
        {"filename": "foo_bar-1.2.tar.gz", "url": "x", "hashes": {}, "yanked": "security"},
    ]}
    asked = []

    class Index(BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append((self.path, self.headers["Accept"]))
            if self.path != "/simple/foo-bar/":
                self.send_error(404)
                return
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / "foo_bar-3.0-py3-none-any.whl").write_bytes(b"")
    try:
        url = f"http://127.0.0.1:{server.server_port}/simple"
        sources = [Source(url, "--index-url"), Source(str(tmp_path / "wheels"), "UV_FIND_LINKS", find_links=True)]
        listed = releases.list_releases("foo_bar", sources)
        assert listed == [Release(Version("1.0"), False), Release(Version("1.1"), True), Release(Version("1.2"), True),
                          Release(Version("3.0"), False)]
        assert asked[0][0] == "/simple/foo-bar/" and asked[0][1].startswith("application/vnd.pypi.simple.v1+json")
        assert releases.list_releases("absent", sources[:1]) == []  # a 404: this index does not have it
    finally:
        server.shutdown()


def test_an_unreachable_index_is_one_line_naming_what_configured_it():
    with pytest.raises(InputError) as caught:
        releases.list_releases("keras", [Source("http://127.0.0.1:9/simple", "--index-url")])
    message = str(caught.value)
    assert message.startswith("--index-url: http://127.0.0.1:9/simple: unreachable (") and "\n" not in message


def test_the_sources_follow_uv_s_variables():
    variables = {"UV_EXTRA_INDEX_URL": "file:///a https://b/simple", "UV_FIND_LINKS": "/wheels"}
    assert releases.index_sources(None, variables) == [
        Source(PYPI_SIMPLE, "the default index (PyPI)"), Source("file:///a", "UV_EXTRA_INDEX_URL"),
        Source("https://b/simple", "UV_EXTRA_INDEX_URL"), Source("/wheels", "UV_FIND_LINKS", find_links=True)]
    assert releases.index_sources("https://mirror/simple", {"UV_INDEX_URL": "https://ignored"})[0] == Source("https://mirror/simple", "--index-url")
    assert releases.index_sources(None, {"UV_INDEX_URL": "https://mine"})[0] == Source("https://mine", "UV_INDEX_URL")


def test_release_notes_are_looked_up_only_on_pypi():
    assert releases.notes_url("foo", "1.0", Source("file:///mirror/simple", "x")) is None

"""The gallery in a real headless browser: Debian's chromium driven through its chromedriver
by selenium (nothing downloaded: both come from apt, .ci/run installs them).  The sites are
served by `photosync gallery serve` on loopback, and one is opened from its folder (file://),
as a NAS share would show it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from galleryrecords import Spec, write
from browser import browser_fixture, open_page  # noqa: F401  (browser_fixture: the browser fixture)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from photosync.library.library import Library

PHOTOS = [
    Spec(1, "public", caption="Beach at noon", albums=("Holiday",), place=(43.29512, 5.37442), camera="X100V",
         services={"pics": None, "flickr": "public"}),
    Spec(2, "private", caption="Passport scan", albums=("Papers",), taken="2019-07-09T10:00:00"),
    Spec(3, "friends", caption="Party", albums=("Holiday",), taken="2019-07-20T03:04:05"),
    Spec(4, "public", caption="Harbour", albums=("Holiday",), taken="2019-07-21T08:00:00"),
    # no copy in any store yet, no thumbnails: a tile with its date
    Spec(5, "public", taken=None, caption="Old scan", stores=(), thumbnails=False),
]


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """A library, its private and public builds, each served by `photosync gallery serve`."""
    from conftest import run_cli

    tmp = tmp_path_factory.mktemp("gallery")
    root, _ = Library.init(tmp / "lib")
    write(root, PHOTOS, thumbnails=(200, 1200))
    servers, urls = [], {}
    try:
        for audience in ("private", "public"):
            out = tmp / audience
            r = run_cli("-L", str(root), "gallery", "build", str(out), "--audience", audience)
            assert r.code == 0, r.err
            proc = subprocess.Popen([sys.executable, "-m", "photosync", "gallery", "serve", str(out), "--port", "0"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            servers.append(proc)
            line = proc.stdout.readline()  # "serving OUT at http://127.0.0.1:PORT/ (Ctrl-C stops)"
            assert " at http://127.0.0.1:" in line, line + proc.stderr.read()
            urls[audience] = line.split(" at ", 1)[1].split()[0]
            urls[audience + "-dir"] = out
        yield urls
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(10)


def tile_ids(driver) -> list[str]:
    return [a.get_attribute("data-id") for a in driver.find_elements(By.CSS_SELECTOR, "ul.grid a.tile")]


def test_every_page_loads_without_console_errors(sites, browser):
    for audience in ("private", "public"):
        out: Path = sites[audience + "-dir"]
        pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html"))
        assert "index.html" in pages and ("dashboard.html" in pages) == (audience == "private")
        for rel in pages:
            assert open_page(browser, sites[audience] + rel) == [], rel
            assert browser.find_element(By.TAG_NAME, "h1").text


def test_the_grid_shows_the_audiences_photos(sites, browser):
    open_page(browser, sites["public"] + "index.html")
    assert browser.find_element(By.ID, "total").text == "3 photos"
    browser.find_element(By.LINK_TEXT, "July").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, "ul.grid")))
    assert tile_ids(browser) == [PHOTOS[0].photo_id, PHOTOS[3].photo_id]  # in date order, no hidden photo
    # the grid shows each photo's 200 px thumbnail, loaded lazily
    imgs = browser.find_elements(By.CSS_SELECTOR, "ul.grid a.tile img")
    assert [i.get_attribute("loading") for i in imgs] == ["lazy", "lazy"]
    WebDriverWait(browser, 10).until(lambda d: all(d.execute_script("return arguments[0].complete", i) for i in imgs))
    assert [browser.execute_script("return arguments[0].naturalWidth", i) for i in imgs] == [200, 200]
    open_page(browser, sites["private"] + "months/2019-07.html")
    assert tile_ids(browser) == [PHOTOS[0].photo_id, PHOTOS[1].photo_id, PHOTOS[2].photo_id, PHOTOS[3].photo_id]
    open_page(browser, sites["public"] + "index.html")
    browser.find_element(By.LINK_TEXT, "Holiday").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, "ul.grid")))
    assert tile_ids(browser) == [PHOTOS[0].photo_id, PHOTOS[3].photo_id]
    assert browser.find_elements(By.LINK_TEXT, "Papers") == []


def test_the_lightbox_opens_on_click_and_shows_the_facts(sites, browser):
    assert open_page(browser, sites["private"] + "months/2019-07.html") == []
    box = browser.find_element(By.ID, "lightbox")
    assert not box.is_displayed()
    browser.find_elements(By.CSS_SELECTOR, "ul.grid a.tile")[0].click()
    WebDriverWait(browser, 5).until(lambda d: box.is_displayed())
    facts = browser.find_element(By.ID, "lb-facts").text
    assert "Beach at noon" in facts and "43.29512, 5.37442" in facts and "X100V" in facts
    assert "local" in facts and "flickr" in facts  # where its copies live
    # the owner may open the original in the local store, and the photo's page on the service
    links = {a.text: a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#lb-facts a")}
    assert links["flickr"] == "https://photos.example/flickr/1"
    assert links["original in local"].startswith("file:///") and links["original in local"].endswith(".jpg")
    assert browser.current_url.endswith("#" + PHOTOS[0].photo_id)
    big = browser.find_element(By.ID, "lb-img")
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return arguments[0].naturalWidth", big) > 0)
    assert browser.execute_script("return arguments[0].naturalWidth", big) == 1200  # the 1200 px rendition
    browser.find_element(By.CSS_SELECTOR, ".lb-next").click()
    WebDriverWait(browser, 5).until(lambda d: "Passport scan" in d.find_element(By.ID, "lb-facts").text)
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    WebDriverWait(browser, 5).until(lambda d: not box.is_displayed())
    assert [m for m in browser.get_log("browser") if m["level"] == "SEVERE"] == []


def test_the_dashboard_shows_the_counts(sites, browser):
    assert open_page(browser, sites["private"] + "dashboard.html") == []
    assert browser.find_element(By.ID, "total").text == "5 photos"
    states = {row.find_elements(By.TAG_NAME, "td")[0].text: row.find_elements(By.TAG_NAME, "td")[1].text
              for row in browser.find_elements(By.CSS_SELECTOR, "#states tbody tr")}
    assert states == {"discovered": "0", "resolved": "5", "replicated": "0"}
    assert browser.find_element(By.ID, "below").text == "1 photo below min_copies (1); 1 without any copy"
    assert browser.find_element(By.CSS_SELECTOR, "#below-list td").text == "IMG_00005.jpg"
    commits = browser.find_elements(By.CSS_SELECTOR, "#commits tbody tr")
    assert [c.find_elements(By.TAG_NAME, "td")[2].text for c in commits][:1] == ["test: photos"]


def test_the_site_works_from_its_folder_without_a_server(sites, browser):
    out: Path = sites["public-dir"]
    assert open_page(browser, (out / "index.html").as_uri()) == []
    browser.find_element(By.LINK_TEXT, "Undated").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, "ul.grid a.tile")))
    browser.find_element(By.CSS_SELECTOR, "ul.grid a.tile").click()
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "lightbox").is_displayed())
    facts = browser.find_element(By.ID, "lb-facts").text
    assert "Old scan" in facts and "no rendition yet" in facts  # a photo without thumbnails
    assert browser.find_element(By.CSS_SELECTOR, "ul.grid .ph").text == "undated"
    assert browser.current_url.startswith("file://")

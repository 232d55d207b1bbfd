"""A new user's path through seed 004's gallery: real photos discovered from a folder, replicated,
`derive thumbnails`, one photo made public with `visibility set`, then a public gallery opened in
headless chromium and read for any trace of the private ones (their ids, file names, captions,
places, thumbnails), and the owner's gallery showing every thumbnail."""

from __future__ import annotations

import io
from datetime import datetime

from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from browser import browser_fixture, open_page  # noqa: F401  (browser_fixture: the browser fixture)
from helpers import open_lib
from photosync.renditions import renditions
from photosync.sample import make_photo


def test_public_gallery_of_derived_thumbnails_shows_only_the_public_photo(tmp_path, cli, browser):
    pics = tmp_path / "pics"
    for i in range(4):
        make_photo(pics / f"trip-{i}.jpg", seed=i, size=(900, 600), taken=datetime(2023, 6, 10 + i, 12),
                   gps=(45.1234 + i, 7.6543 + i), make="Canon", model="Canon EOS R5", caption=f"Secret caption {i}")
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    cli("-L", str(lib), "discover", check=0)
    cli("-L", str(lib), "replicate", "--execute", check=0)
    cli("-L", str(lib), "derive", "thumbnails", check=0)
    cli("-L", str(lib), "visibility", "set", "trip-0.jpg", "public", "--reason", "for the blog", check=0)
    opened, _ = open_lib(lib, write=False)
    try:
        photos = {opened.get_photo(pid).metadata.filename: opened.get_photo(pid) for pid in opened.photo_ids()}
    finally:
        opened.close()
    public = photos.pop("trip-0.jpg")

    out = tmp_path / "public"
    cli("-L", str(lib), "gallery", "build", str(out), "--audience", "public", check=0)
    text = "\n".join(str(p.relative_to(out)) + "\n" + p.read_bytes().decode("utf-8", "replace")
                     for p in sorted(out.rglob("*")) if p.is_file())
    for name, photo in photos.items():
        traces = [photo.photo_id, photo.content_hash[7:], name, photo.metadata.caption or "?",
                  *(r.content_hash[7:] for r in photo.renditions.values())]
        assert not [t for t in traces if t in text], name
    assert "45.12" not in text and "7.65" not in text  # no place, not even the public photo's
    # its pictures carry no metadata: no GPS, no camera, no date
    pictures = sorted(out.glob("img/*/*"))
    assert pictures and all(not Image.open(io.BytesIO(p.read_bytes())).getexif() for p in pictures)

    assert open_page(browser, (out / "index.html").as_uri()) == []
    assert browser.find_element(By.ID, "total").text == "1 photo"
    browser.find_element(By.LINK_TEXT, "June").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "ul.grid img"))
    imgs = browser.find_elements(By.CSS_SELECTOR, "ul.grid a.tile img")
    assert [i.find_element(By.XPATH, "..").get_attribute("data-id") for i in imgs] == [public.photo_id]
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return arguments[0].naturalWidth", imgs[0]) > 0)
    assert browser.execute_script("return arguments[0].naturalWidth", imgs[0]) == 200
    imgs[0].click()
    big = browser.find_element(By.ID, "lb-img")
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return arguments[0].naturalWidth", big) > 0)
    largest = max(r.width for r in renditions(public))
    assert browser.execute_script("return arguments[0].naturalWidth", big) == largest > 200
    assert "Secret caption 0" in browser.find_element(By.ID, "lb-facts").text

    mine = tmp_path / "mine"
    cli("-L", str(lib), "gallery", "build", str(mine), check=0)
    assert open_page(browser, (mine / "months" / "2023-06.html").as_uri()) == []
    imgs = browser.find_elements(By.CSS_SELECTOR, "ul.grid a.tile img")
    assert len(imgs) == 4
    for img in imgs:
        browser.execute_script("arguments[0].scrollIntoView()", img)
        WebDriverWait(browser, 10).until(lambda d, i=img: d.execute_script("return arguments[0].naturalWidth", i) > 0)

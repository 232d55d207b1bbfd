"""The gallery: a static web site of the library (``photosync gallery build``) and its
dashboard, made from the library alone and rebuilt at any time.  The audience a build is
for is its privacy gate (``collect.shown``): nothing of a photo outside it is written."""

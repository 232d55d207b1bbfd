"""The contract suites every connector and every blob store runs, shipped in the
package so that a connector or store from another package (an entry point in
``photosync.connectors`` / ``photosync.stores``) runs exactly the tests the
built-ins run.

A test module subclasses a suite and gives it a *case*: the thing under test
and a way to change the world behind it (add, change or remove an item; damage
a stored blob).  For a connector::

    import pytest
    from photosync.testing.connector import ConnectorCase, ConnectorContract

    class MyCase(ConnectorCase):
        def config(self): return {"type": "mytype", ...}
        def add(self, rel, data): ...     # and change, remove, age, ...

    class TestMyConnector(ConnectorContract):
        @pytest.fixture
        def case(self, tmp_path):
            return MyCase(tmp_path)

and for a store, ``photosync.testing.store.StoreCase`` / ``StoreContract`` the
same way.  The reference cases ship here too: ``FolderCase`` (the local folder
connector) and ``FolderStoreCase`` (the local store); a case that needs a fake
service lives with that fake in the test tree.

pytest is a test dependency only: importing ``photosync`` never imports it;
importing ``photosync.testing.connector`` or ``.store`` does.
"""

"""Fixtures shared by the unit tests."""

from __future__ import annotations

import errno
import os

import pytest


@pytest.fixture
def make_read_only(monkeypatch):
    """``make_read_only(directory)``: chmod 0o500 and, as root (who may write anyway), also refuse file creation
    in ``directory``, as a read-only mount does."""
    def make(directory):
        os.chmod(directory, 0o500)
        if os.access(directory, os.W_OK):
            real_open = os.open

            def open_(path, flags, *a, **k):
                if os.path.dirname(os.path.abspath(path)) == str(directory) and flags & os.O_CREAT:
                    raise PermissionError(errno.EROFS, "Read-only file system", path)
                return real_open(path, flags, *a, **k)

            monkeypatch.setattr(os, "open", open_)
    return make

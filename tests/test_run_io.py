"""Run.save is atomic (a failed write keeps the previous file) and Run.load rejects a bad file with one clear
ValueError naming the file and the field, never advising ``weights_only=False``; check_output_path."""

import errno
import json
import os

import pytest
import torch

import landau_lite.run as run_module
from landau_lite.run import Run, check_output_path
from landau_lite.solver import simulate

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def run():
    return simulate("two_bump", "blob", n=30, dt=0.1, t_end=0.3, progress=False, snapshot_times=(0.1,))


@pytest.fixture(scope="module")
def other():
    return simulate("maxwellian", "exact", n=20, dt=0.1, t_end=0.2, progress=False)


# ---------------------------------------------------------------------------------------------
# atomic save
# ---------------------------------------------------------------------------------------------

def _disk_full_after(fraction, real):
    """A replacement of json.dump / torch.save that writes part of the payload, then fails like a full disk."""
    def write(obj, fh, *a, **k):
        import io
        buf = io.StringIO() if "b" not in getattr(fh, "mode", "b") else io.BytesIO()
        real(obj, buf, *a, **k)
        data = buf.getvalue()
        fh.write(data[: int(len(data) * fraction)])
        raise OSError(errno.ENOSPC, "No space left on device")
    return write


@pytest.mark.parametrize("suffix,attr", [(".json", "json"), (".pt", "torch")])
def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch, run, other, suffix, attr):
    # before: a full disk mid-write replaced the previous run by a truncated file
    path = tmp_path / f"r{suffix}"
    other.save(path)
    before = path.read_bytes()
    mod = getattr(run_module, attr)
    real = mod.dump if attr == "json" else mod.save
    monkeypatch.setattr(mod, "dump" if attr == "json" else "save", _disk_full_after(0.5, real))
    with pytest.raises(OSError, match="No space left"):
        run.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before                       # untouched
    assert sorted(os.listdir(tmp_path)) == [path.name]       # no temporary file left behind
    assert Run.load(path).problem == "maxwellian"
    run.save(path)                                           # a working write replaces it
    assert Run.load(path).problem == "two_bump"


def test_saved_file_mode_follows_the_umask(tmp_path, other):
    # a temporary file made by mkstemp is 0600; the saved run must get the usual 0666 & ~umask
    umask = os.umask(0o022)
    try:
        other.save(tmp_path / "r.json")
    finally:
        os.umask(umask)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644


# ---------------------------------------------------------------------------------------------
# validated load
# ---------------------------------------------------------------------------------------------

def _corrupt(data, key, value):
    data = json.loads(json.dumps(data))
    target = data
    parts = key.split(".")
    for p in parts[:-1]:
        target = target[p] if not p.isdigit() else target[int(p)]
    last = parts[-1]
    if value is _DELETE:
        del target[last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return data


_DELETE = object()

BAD_FIELDS = [
    ("n", "abc", "'n' must be an integer >= 2"),
    ("n", True, "'n' must be an integer"),
    ("dt", None, "'dt' must be a finite number > 0"),
    ("dt", -0.1, "'dt'"),
    ("t_end", -5.0, "'t_end' must be a finite number > t0"),
    ("dtype", "float16", "'dtype'"),
    ("d", 1, "'d' must be an integer >= 2"),
    ("seed", -1, "'seed'"),
    ("steps", 1.5, "'steps'"),
    ("record_every", 0, "'record_every'"),
    ("status", 3, "'status'"),
    ("format", "other/1", "not a saved landau_lite Run"),
    ("t", [0.0, 0.1, 0.1, 0.3], "'t' must be increasing"),
    ("energy", [5.0, 5.0], "'energy' must be a list with one entry per recorded time (4)"),
    ("mean.1", [0.0], "'mean[1]' must be a list of d numbers"),
    ("cov.0", [[1.0, 0.0]], "'cov[0]'"),
    ("entropy_rate.2", "x", "'entropy_rate[2]' must be a number"),
    ("reference.m4", [45.0], "'reference.m4'"),
    ("reference", {"speed": [1, 2, 3, 4]}, "'reference'"),
    ("step_weighted_loss", [None], "'step_weighted_loss' must be a list of the length of 'step_t'"),
    ("step_t", [0.0, "a", 0.2, 0.3], "'step_t'"),
    ("diagnostic_keys", ["mean", "t"], "'diagnostic_keys'"),
    ("wall", _DELETE, "missing field 'wall'"),
]


@pytest.mark.parametrize("key,value,match", BAD_FIELDS, ids=[f"{k}={v!r}"[:40] for k, v, _ in BAD_FIELDS])
def test_load_rejects_bad_fields(tmp_path, run, key, value, match):
    # before: n = 'abc' or dt = null was accepted and crashed later
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_corrupt(run.to_json_dict(), key, value)))
    with pytest.raises(ValueError) as info:
        Run.load(path)
    assert str(path) in str(info.value) and match in str(info.value), str(info.value)


def test_load_round_trip_is_unchanged(tmp_path, run):
    run.save(tmp_path / "r.json")
    run.save(tmp_path / "r.pt")
    for name in ("r.json", "r.pt"):
        back, ref = Run.load(tmp_path / name).to_json_dict(), run.to_json_dict()
        if name == "r.json":                                 # a .json file holds no particles
            assert back.pop("snapshot_times") == [] and ref.pop("snapshot_times") == [0.1]
        assert back == ref
    assert torch.equal(Run.load(tmp_path / "r.pt").snapshots[0.1], run.snapshots[0.1])


class _Foreign:
    pass


@pytest.mark.parametrize("content", ["truncated", "empty", "random", "foreign_object", "json_in_pt", "dict"])
def test_load_bad_pt_is_one_clear_error(tmp_path, run, content):
    # before: PytorchStreamReader failed / a bare EOFError / torch's advice to retry with weights_only=False
    good = tmp_path / "good.pt"
    run.save(good)
    path = tmp_path / "bad.pt"
    if content == "truncated":
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif content == "empty":
        path.write_bytes(b"")
    elif content == "random":
        path.write_bytes(os.urandom(4096))
    elif content == "foreign_object":
        torch.save({"format": "landau_lite.Run/1", "x": _Foreign()}, path)
    elif content == "json_in_pt":
        path.write_text(json.dumps(run.to_json_dict()))
    else:
        payload = run.to_json_dict()
        payload["x_final"] = torch.zeros(3, 3)               # wrong shape for n = 30, d = 2
        torch.save(payload, path)
    with pytest.raises(ValueError) as info:
        Run.load(path)
    message = str(info.value)
    assert str(path) in message and "weights_only=False" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    if content == "dict":
        assert "'x_final' must be a (30, 2) tensor" in message


def test_load_other_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        Run.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Run.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="path must end with"):
        Run.load(tmp_path / "r.txt")


# ---------------------------------------------------------------------------------------------
# check_output_path
# ---------------------------------------------------------------------------------------------

def test_check_output_path(tmp_path, make_read_only):
    ok = tmp_path / "r.json"
    assert check_output_path(ok) == str(ok) and os.listdir(tmp_path) == []      # the probe is removed
    with pytest.raises(FileNotFoundError, match="directory does not exist"):
        check_output_path(tmp_path / "no" / "r.json")
    (tmp_path / "x.json").mkdir()
    with pytest.raises(IsADirectoryError):
        check_output_path(tmp_path / "x.json")
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        check_output_path(tmp_path / "file" / "r.json")
    ok.write_text("{}")
    with pytest.raises(FileExistsError, match="exists"):
        check_output_path(ok)
    assert check_output_path(ok, overwrite=True) == str(ok)
    with pytest.raises(ValueError, match="must end with"):
        check_output_path(tmp_path / "r.csv")
    ro = tmp_path / "ro"
    ro.mkdir()
    make_read_only(ro)
    with pytest.raises(PermissionError, match="not writable"):
        check_output_path(ro / "r.json")



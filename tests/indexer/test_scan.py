"""Scanning: recursion, order, extensions, hidden files, links, content hashes."""
import os
import threading

from PIL import Image

from indexer.scan import hash_files, scan


def touch_image(path, color=(200, 0, 0)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), color).save(path, format="PNG")


def test_recursive_sorted_case_insensitive(tmp_path):
    names = ["b.JPG", "a/z.png", "a/b/c.WebP", "C.Tiff", "d.jpeg", "e.gif", "f.bmp", "g.tif",
             "h.ppm", "i.PGM", "j.pbm"]
    for name in names:
        touch_image(tmp_path / name)
    (tmp_path / "readme.txt").write_text("x")
    (tmp_path / "vector.eps").write_text("%!PS-Adobe-3.0 EPSF-3.0")
    files, skips = scan(str(tmp_path))
    assert [f.path for f in files] == sorted(names)
    assert skips == []
    assert scan(str(tmp_path))[0] == files  # deterministic


def test_hidden_files_and_folders_and_image_named_folders(tmp_path):
    touch_image(tmp_path / ".hidden.jpg")
    touch_image(tmp_path / ".cache" / "x.jpg")
    (tmp_path / "folder.jpg").mkdir()
    touch_image(tmp_path / "folder.jpg" / "inside.png")
    files, _ = scan(str(tmp_path))
    assert [f.path for f in files] == ["folder.jpg/inside.png"]


def test_symlink_loop_ends_and_outside_links_are_refused(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    touch_image(root / "sub" / "a.png")
    touch_image(outside / "secret.png")
    os.symlink(root, root / "sub" / "loop")
    os.symlink(outside / "secret.png", root / "leak.png")
    os.symlink(root / "missing.png", root / "dangling.png")
    files, skips = scan(str(root))
    assert [f.path for f in files] == ["sub/a.png"]
    reasons = {s.path: s.reason for s in skips}
    assert "outside the collection root" in reasons["leak.png"]
    assert "not a regular file" in reasons["dangling.png"]


def test_identical_content_hashes_equal_and_vanished_files_are_skipped(tmp_path):
    touch_image(tmp_path / "a.png")
    touch_image(tmp_path / "copy.png")
    touch_image(tmp_path / "other.png", color=(0, 0, 255))
    touch_image(tmp_path / "gone.png")
    files, _ = scan(str(tmp_path))
    os.unlink(tmp_path / "gone.png")
    good, skips = hash_files(files)
    by_path = {f.path: f for f in good}
    assert by_path["a.png"].content_hash == by_path["copy.png"].content_hash
    assert by_path["a.png"].content_hash != by_path["other.png"].content_hash
    assert by_path["a.png"].file_size == (tmp_path / "a.png").stat().st_size
    assert [s.path for s in skips] == ["gone.png"] and "unreadable" in skips[0].reason


def swapped_after_the_scan(tmp_path, swap):
    """Scan a folder of one picture, let `swap(path)` replace it, then hash and decode it."""
    from core.imaging import Preprocessing
    from indexer.read import decode_one
    root = tmp_path / "root"
    touch_image(root / "sub" / "a.png")
    (tmp_path / "secret.png").write_bytes((root / "sub" / "a.png").read_bytes())
    files, _ = scan(str(root))
    good, _ = hash_files(files)
    content_hash = good[0].content_hash
    swap(root, tmp_path)
    pre = Preprocessing(8, 8, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    rehashed = {}
    hashing = threading.Thread(target=lambda: rehashed.update(zip("gs", hash_files(files))),
                               daemon=True)
    hashing.start()
    hashing.join(timeout=20)
    assert not hashing.is_alive(), "hashing hung"
    decoded = decode_one((0, files[0].full_path, content_hash), pre, None)
    return rehashed["g"], rehashed["s"], decoded


def test_a_file_swapped_for_a_link_outside_is_neither_hashed_nor_decoded(tmp_path):
    def swap(root, outside):
        os.unlink(root / "sub" / "a.png")
        os.symlink(outside / "secret.png", root / "sub" / "a.png")
    good, skips, decoded = swapped_after_the_scan(tmp_path, swap)
    assert good == [] and "symbolic link" in skips[0].reason
    assert decoded.pixels is None and "symbolic link" in decoded.error


def test_a_folder_swapped_for_a_link_outside_is_not_hashed(tmp_path):
    def swap(root, outside):
        os.rename(root / "sub", outside / "moved")
        os.symlink(outside / "moved", root / "sub")  # the same file name, outside the root
    good, skips, _ = swapped_after_the_scan(tmp_path, swap)
    assert good == [] and "outside the collection root" in skips[0].reason


def test_a_file_swapped_for_a_fifo_does_not_hang(tmp_path):
    def swap(root, _outside):
        os.unlink(root / "sub" / "a.png")
        os.mkfifo(root / "sub" / "a.png")
    good, skips, decoded = swapped_after_the_scan(tmp_path, swap)
    assert good == [] and "not a regular file" in skips[0].reason
    assert "not a regular file" in decoded.error


def test_a_file_changed_after_hashing_is_not_decoded_under_the_old_hash(tmp_path):
    def swap(root, _outside):
        touch_image(root / "sub" / "a.png", color=(0, 0, 255))
    good, _, decoded = swapped_after_the_scan(tmp_path, swap)
    assert len(good) == 1  # hashed again, as it now is
    assert decoded.pixels is None and "changed since it was hashed" in decoded.error

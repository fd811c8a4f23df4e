"""Write the copies derived from plugins/module_utils/_spec.FIELDS: the module's option docs.

    python tools/gen_docs.py          rewrite the generated sections
    python tools/gen_docs.py --check  exit 1 when a generated section is out of date
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "# BEGIN GENERATED SPEC OPTIONS"
END = "# END GENERATED SPEC OPTIONS"


def _spec():
    sys.path.insert(0, str(ROOT / "tools"))
    import collection_path

    collection_path.ensure()
    from ansible_collections.openvino.ovms.plugins.module_utils import _spec as spec
    return spec


def option_block() -> str:
    text = yaml.safe_dump(_spec().option_docs(), sort_keys=False, default_flow_style=False, width=110)
    return "".join("  " + line + "\n" for line in text.splitlines())


def render_module(path: Path) -> str:
    text = path.read_text()
    head, rest = text.split(BEGIN, 1)
    begin_line, rest = rest.split("\n", 1)
    _, tail = rest.split(END, 1)
    return head + BEGIN + begin_line + "\n" + option_block() + END + tail


TARGETS = [ROOT / "plugins" / "modules" / "modelserver.py"]


def main(argv) -> int:
    stale = []
    for path in TARGETS:
        new = render_module(path)
        if new != path.read_text():
            stale.append(path)
            if "--check" not in argv:
                path.write_text(new)
    if "--check" in argv and stale:
        print("out of date (run python tools/gen_docs.py): " + ", ".join(str(p) for p in stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

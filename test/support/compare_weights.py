"""Prints, as JSON, how far a trained model folder's weights moved from the base model's.

    python compare_weights.py BASE_DIR TRAINED_DIR
"""
import json
import sys

from safetensors import safe_open


def tensors(folder):
    import glob
    out = {}
    for path in sorted(glob.glob(f"{folder}/*.safetensors")):
        with safe_open(path, framework="pt") as f:
            for name in f.keys():
                out[name] = f.get_tensor(name)
    return out


base, trained = tensors(sys.argv[1]), tensors(sys.argv[2])
changed = [n for n in base if n in trained and not base[n].float().equal(trained[n].float())]
max_diff = max((float((base[n].float() - trained[n].float()).abs().max()) for n in changed), default=0.0)
print(json.dumps({"tensors": len(base), "shared": sum(n in trained for n in base), "changed": len(changed), "max_abs_diff": max_diff}))

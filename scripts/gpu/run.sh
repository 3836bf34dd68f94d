#!/usr/bin/env bash
# On a bare Linux x64 GPU machine, from the repository root, after `npm run gpu:bundle` here and with
# .gpu/ and .gl/ copied along: the model suites on webgpu and wasm, then bench:gpu, then (if PyTorch
# is there) the H100 prefill table. Everything it writes goes to $OUT (default: out/gpu).
#   bash scripts/gpu/run.sh [tests] [bench] [prefill]     (default: all three)
# KVLAB_GPU_TEST_TIMEOUT / KVLAB_GPU_BENCH_TIMEOUT (seconds) and KVLAB_GPU_BENCH_ARGS (more flags for
# bench:gpu, e.g. --repeats=2) fit the run into a short lease.
set -uo pipefail
OUT=${OUT:-out/gpu}
mkdir -p "$OUT"
steps=${*:-tests bench prefill}
T=/tmp/kvlab-gpu
mkdir -p $T/bin $T/redis

# The Vulkan loader where Dawn looks for it (the device README's recipe), and the NVIDIA driver's ICD.
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi

# Node, Dawn and redis-server, unpacked under /tmp (never over the system's own libraries).
xz -dc .gpu/node.xz > $T/bin/node && chmod +x $T/bin/node
xz -dk -f .gpu/app/node_modules/webgpu/dist/linux-x64/dawn.node.xz
for f in .gpu/debs/*.deb; do dpkg -x "$f" $T/redis; done
for tool in redis-server redis-cli; do
  printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$T/redis/usr/lib/x86_64-linux-gnu:$T/redis/lib/x86_64-linux-gnu" "$T/redis/usr/bin/$tool" > $T/bin/$tool
  chmod +x $T/bin/$tool
done
export PATH=$T/bin:$PATH

{
  echo "date: $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  echo "node: $(node --version)"
  echo "redis: $(redis-server --version)"
  grep -m1 'model name' /proc/cpuinfo; nproc
} 2>&1 | tee "$OUT/machine.txt"

rc=0
case " $steps " in *" tests "*)
  echo "== model suites on webgpu and wasm"
  KVLAB_TEST_BACKENDS=webgpu,wasm timeout ${KVLAB_GPU_TEST_TIMEOUT:-180} node .gpu/app/test-gpu.cjs 2>&1 | tee "$OUT/gpu-tests.txt" || rc=1
esac
case " $steps " in *" bench "*)
  echo "== bench:gpu"
  timeout ${KVLAB_GPU_BENCH_TIMEOUT:-210} node .gpu/app/bench-gpu.cjs --redis-server "$T/bin/redis-server" --out "$OUT/gpu.json" ${KVLAB_GPU_BENCH_ARGS:-} 2>&1 | tee "$OUT/bench-gpu.txt" || rc=1
esac
case " $steps " in *" prefill "*)
  echo "== H100 prefill table (PyTorch)"
  timeout 100 python3 scripts/measure-prefill-gpu.py --out "$OUT/h100-prefill.tsv" 2>&1 | tee "$OUT/prefill.txt" || rc=1
esac
exit $rc

"""Cycles of a real Cortex-M4 estimated from the instructions the emulator executed.

QEMU counts instructions, not cycles. This module counts how often each instruction of
the firmware ran (a small TCG plugin, built with the host C compiler on first use) and
weights every executed instruction with its cost on a Cortex-M4 at zero wait states
(the processor's instruction set summary, e.g. ARM DDI 0439, TI SWCU192 table 3-25):

  data processing, shifts, extends, packing, saturation, CLZ, REV      1
  every multiply and multiply-accumulate (MUL, MLA, SMLAD, SMLABB,
  SMMLAR, SMULWB, UMLAL, ...)                                           1
  LDR/STR of a byte, halfword or word                                   2
  LDRD/STRD                                                             3
  LDM/STM/PUSH/POP of N registers                                       1 + N
  a branch taken (B, BL, BX, CBZ, POP {pc}, ...)                        1 + P, P = 2
  a table branch (TBB, TBH)                                             2 + P
  a branch not taken                                                    1
  SDIV/UDIV                                                             7 (2 to 12)

P (pipeline refill) is 1 to 3 cycles; a conditional branch's taken share comes from the
counts (the instruction after it ran less often than the branch). Neighbouring loads
can pipeline (a load after a load may take 1 cycle), flash wait states add cycles on a
fast core without an accelerator, and the model ignores both: it estimates, it does not
replace DWT CYCCNT on silicon (`--device /dev/ttyACM0` reports cycles there)."""
from __future__ import annotations

import bisect
import re
import subprocess
import tempfile
from pathlib import Path

import serial

from ..errors import MicromelError
from ..link.device import Device
from ..link.emulator import Emulator
from ..paths import build_dir

REFILL = 2

PLUGIN_C = r"""
/* QEMU TCG plugin (API v1): per-instruction execution counts of guest code below hi=,
 * written as "pc count" lines to out= at exit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct { const char *target_name; int min, cur, system_emulation, smp, max_vcpus; } qemu_info_t;
typedef void (*tb_cb)(qemu_plugin_id_t, struct qemu_plugin_tb *);
typedef void (*udata_cb)(qemu_plugin_id_t, void *);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t, tb_cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *, size_t);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *, int, void *, uint64_t);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t, udata_cb, void *);
__attribute__((visibility("default"))) int qemu_plugin_version = 1;
static uint64_t hi = 0x100000, *counts;
static char path[1024] = "counts.txt";
static void trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  (void)id;
  for (size_t i = 0; i < qemu_plugin_tb_n_insns(tb); i++) {
    struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
    uint64_t pc = qemu_plugin_insn_vaddr(insn);
    if (pc < hi) qemu_plugin_register_vcpu_insn_exec_inline(insn, 0, &counts[pc >> 1], 1);
  }
}
static void done(qemu_plugin_id_t id, void *u) {
  (void)id, (void)u;
  FILE *f = fopen(path, "w");
  if (!f) return;
  for (uint64_t i = 0; i < hi >> 1; i++)
    if (counts[i]) fprintf(f, "%llx %llu\n", (unsigned long long)(2 * i), (unsigned long long)counts[i]);
  fclose(f);
}
__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id,
    const qemu_info_t *info, int argc, char **argv) {
  (void)info;
  for (int i = 0; i < argc; i++) {
    if (!strncmp(argv[i], "out=", 4)) snprintf(path, sizeof path, "%s", argv[i] + 4);
    if (!strncmp(argv[i], "hi=", 3)) hi = strtoull(argv[i] + 3, 0, 0);
  }
  counts = calloc(hi >> 1, sizeof *counts);
  qemu_plugin_register_vcpu_tb_trans_cb(id, trans);
  qemu_plugin_register_atexit_cb(id, done, 0);
  return 0;
}
"""


def plugin() -> Path:
    """The counting plugin, built once into the build folder."""
    out = build_dir() / "qemu-plugin" / "libmm_pcount.so"
    src = out.with_suffix(".c")
    if not out.exists() or not src.exists() or src.read_text() != PLUGIN_C:
        out.parent.mkdir(parents=True, exist_ok=True)
        src.write_text(PLUGIN_C)
        try:
            subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(out), str(src)],
                           check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as e:
            raise MicromelError(f"cannot build the QEMU counting plugin: {e}") from None
    return out


def executed(elf: Path, qemu: dict, work) -> dict:
    """pc -> times executed over one emulator session (qemu: link.emulator.qemu_config's
    machine, extra_args and system) in which work(device) runs."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "counts.txt"
        emu = Emulator(elf, qemu["machine"], system=qemu["system"],
                       extra_args=list(qemu["extra_args"] or []) + ["-plugin", f"file={plugin()},out={out}"])
        port = emu.start()
        link = serial.serial_for_url(f"socket://127.0.0.1:{port}", timeout=0.1)
        dev = Device(link, f"emulate:{port}", emulator=emu)
        try:
            dev.ping(b"boot", timeout=10.0)
            work(dev)
        finally:
            dev.close()          # QEMU exits cleanly: the plugin writes its counts
        if not out.exists():
            raise MicromelError("the emulator wrote no instruction counts")
        counts = {}
        for line in out.read_text().splitlines():
            pc, n = line.split()
            counts[int(pc, 16)] = int(n)
        return counts


_LINE = re.compile(r"^\s*([0-9a-f]+):\s+((?:[0-9a-f]{4}\s?){1,2})\s+(\S+)\s*(.*)$")


def disassemble(elf: Path) -> tuple[dict, list]:
    """(pc -> (mnemonic, operands, size), sorted [(start, end, function)])."""
    try:
        text = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True,
                              text=True, check=True).stdout
        syms = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True,
                              text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise MicromelError(f"cannot disassemble {elf}: {e}") from None
    insns = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            size = 2 * len(m.group(2).split())
            insns[int(m.group(1), 16)] = (m.group(3), m.group(4), size)
    funcs = []
    for line in syms.splitlines():
        p = line.split()
        if len(p) == 4 and p[2] in "tTwW":
            start = int(p[0], 16) & ~1
            funcs.append((start, start + int(p[1], 16), p[3]))
    return insns, sorted(funcs)


def _regs(ops: str) -> int:
    m = re.search(r"\{([^}]*)\}", ops)
    if not m:
        return 1
    n = 0
    for part in m.group(1).split(","):
        part = part.strip()
        if "-" in part:
            a, b = (int(re.sub(r"\D", "", x) or 0) for x in part.split("-"))
            n += b - a + 1
        elif part:
            n += 1
    return n


_COND_BRANCH = re.compile(r"b(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le)")


def conditional_branch(mnem: str) -> bool:
    """B<cond>, CBZ or CBNZ: taken or not by the run (not BL, BLX, BX, BIC, BFI, ...)."""
    m = mnem.split(".")[0].lower()
    return bool(_COND_BRANCH.fullmatch(m)) or m in ("cbz", "cbnz")


def cost(mnem: str, ops: str, taken: float) -> float:
    """Cycles of one execution of an instruction (see the table above); taken: the share of
    executions in which a conditional branch was taken (1 for any other instruction)."""
    m = mnem.split(".")[0].lower()
    if m in ("tbb", "tbh"):     # the table's byte or halfword is loaded first
        return 2 + REFILL
    if m in ("b", "bl", "blx", "bx") or conditional_branch(m):
        return 1 + REFILL * taken
    if m.startswith(("ldm", "stm", "push", "pop", "vldm", "vstm", "vpush", "vpop")):
        n = _regs(ops)
        pc = "pc" in ops and m.startswith(("ldm", "pop"))
        return 1 + n + (REFILL if pc else 0)
    if m.startswith(("ldrd", "strd")):
        return 3
    if m.startswith(("ldr", "str", "vldr", "vstr")):
        return 2 + (REFILL if m.startswith("ldr") and ops.split(",")[0].strip() == "pc" else 0)
    if m.startswith(("sdiv", "udiv")):
        return 7
    if m in ("mov", "add") and ops.split(",")[0].strip() == "pc":
        return 1 + REFILL
    return 1


def estimate(counts: dict, insns: dict, funcs: list, keep) -> dict:
    """Executed instructions and estimated cycles per function name for which keep(name)
    holds: {name: (instructions, cycles)}."""
    starts = [f[0] for f in funcs]
    out: dict = {}
    for pc, n in counts.items():
        i = bisect.bisect_right(starts, pc) - 1
        if i < 0 or pc >= funcs[i][1]:
            continue
        name = funcs[i][2]
        if not keep(name) or pc not in insns:
            continue
        mnem, ops, size = insns[pc]
        m = mnem.split(".")[0].lower()
        taken = 1.0
        if conditional_branch(m):
            after = counts.get(pc + size, 0)
            taken = min(1.0, max(0.0, 1.0 - after / n))
        ins, cyc = out.get(name, (0, 0.0))
        out[name] = (ins + n, cyc + n * cost(mnem, ops, taken))
    return out


def runs_arm(qemu: dict) -> bool:
    """Whether an emulated board (link.emulator.qemu_config) runs on qemu-system-arm: the
    model reads Arm instructions (arm-none-eabi-objdump), so the RISC-V board has no estimate."""
    return qemu["system"] == "qemu-system-arm"


def cpi(per_func: dict, names) -> float | None:
    """Cycles per instruction over the functions in names (None if none ran)."""
    ins = sum(per_func[n][0] for n in names if n in per_func)
    cyc = sum(per_func[n][1] for n in names if n in per_func)
    return cyc / ins if ins else None

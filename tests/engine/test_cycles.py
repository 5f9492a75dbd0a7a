"""The cycle model of engine/cycles.py (docs/engine.md "Cycles"): each instruction's cost at
zero wait states, and a conditional branch's taken share read from the counts."""
import pytest

from micromel.engine import cycles


@pytest.mark.parametrize("mnem, ops, taken, want", [
    ("adds", "r0, r0, #1", 1.0, 1), ("smlad", "r4, r8, r12, r4", 1.0, 1),
    ("sxtb16", "r12, r12, ror #8", 1.0, 1), ("bic.w", "r0, r0, #3", 1.0, 1),
    ("bfi", "r0, r1, #0, #8", 1.0, 1), ("ldr", "r0, [r1]", 1.0, 2),
    ("ldrsb.w", "r0, [r1, #1]", 1.0, 2), ("strb.w", "r0, [lr], #1", 1.0, 2),
    ("ldrd", "r4, r6, [r1], #8", 1.0, 3), ("ldmia.w", "r0!, {r8, r9, r10, r11}", 1.0, 5),
    ("push", "{r4, r5, r6, r7, r8, r9, r10, r11, lr}", 1.0, 10),
    ("pop", "{r4, r5, r6, r7, r8, r9, r10, r11, pc}", 1.0, 12),
    ("b.n", "1b", 1.0, 3), ("bl", "8000 <f>", 1.0, 3), ("blx", "r3", 1.0, 3),
    ("bx", "lr", 1.0, 3), ("tbb", "[pc, r12]", 1.0, 4), ("sdiv", "r0, r0, r1", 1.0, 7),
    # conditional branches: 1 + 2 x their taken share (every condition code, both widths)
    ("bne.n", "1b", 1.0, 3), ("bne.n", "1b", 0.0, 1), ("bne", "1b", 0.5, 2),
    ("beq.w", "2f", 1.0, 3), ("bhi.n", "2f", 0.25, 1.5), ("bls.n", "2f", 1.0, 3),
    ("bgt.n", "2f", 1.0, 3), ("bge.n", "2f", 1.0, 3), ("blt.n", "2f", 1.0, 3),
    ("ble.n", "2f", 1.0, 3), ("bcc.n", "2f", 1.0, 3), ("bcs.n", "2f", 1.0, 3),
    ("bmi.n", "2f", 1.0, 3), ("bpl.n", "2f", 1.0, 3), ("cbz", "r0, 2f", 0.0, 1),
    ("cbnz", "r0, 2f", 1.0, 3),
])
def test_cost_of_each_kind_of_instruction(mnem, ops, taken, want):
    assert cycles.cost(mnem, ops, taken) == want


def test_conditional_branches_are_told_from_calls_and_bit_operations():
    for m in ("bne.n", "beq", "bls.n", "blt.w", "bcc.n", "cbz", "cbnz"):
        assert cycles.conditional_branch(m), m
    for m in ("b.n", "bl", "blx", "bx", "bic", "bfi", "bfc", "bkpt", "tbb", "ldr"):
        assert not cycles.conditional_branch(m), m


def test_estimate_reads_a_loop_branch_taken_share_from_the_counts():
    # a loop of 3 instructions run 10 times: its back edge is taken 9 times of 10, so the
    # branch costs 9 x 3 + 1 x 1 cycles; a call after it is always taken
    insns = {0x100: ("adds", "r0, r0, #1", 2), 0x102: ("cmp", "r0, r1", 2),
             0x104: ("bne.n", "100 <f>", 2), 0x106: ("bl", "200 <g>", 4),
             0x10a: ("bx", "lr", 2)}
    counts = {0x100: 10, 0x102: 10, 0x104: 10, 0x106: 1, 0x10a: 1}
    funcs = [(0x100, 0x10c, "f")]
    ins, cyc = cycles.estimate(counts, insns, funcs, lambda name: True)["f"]
    assert ins == 32
    assert cyc == pytest.approx(10 + 10 + (9 * 3 + 1) + 3 + 3)

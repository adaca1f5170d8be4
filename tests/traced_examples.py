"""Python functions over bit vectors that tests/test_trace.py traces into circuits (importable as
`traced_examples`, so a generator name py:traced_examples:NAME finds them)."""

from arlearn.circuits.trace import Bits, mux


def add(a: Bits[4], b: Bits[4]):
    return a + b


def mul(a: Bits[3], b: Bits[4]):
    return a * b


def logic(a: Bits[5], b: Bits[5]):
    return ((a & b) | (a >> 2)) ^ (b << 1) ^ 9


def select(a: Bits[3], b: Bits[3], op: Bits[1]):
    return mux(op, a * b, (a ^ b) + 1)


def compare(a: Bits[4], b: Bits[4]):
    return mux(a < b, 1, 0) + mux(a == b, 2, 0) + mux(a >= b, 4, 0) + mux(a > b, 8, 0) + mux(a <= b, 16, 0)


def clamp(x: Bits[5]):
    return mux(x > 20, 20, mux(x < 3, 3, x))


def majority3(x: Bits[3]):
    a, b, c = x & 1, (x >> 1) & 1, (x >> 2) & 1  # bit i of x, on Bits and on ints
    return (a & b) | (a & c) | (b & c)


def complement(x: Bits[4]):
    return ~x


def branches(x: Bits[3]):
    if x:
        return x
    return 0

"""The sandbox's seccomp filter (a classic BPF program that bubblewrap loads with --seccomp FD).

It refuses what namespaces do not isolate: kernel keyrings (add_key, request_key, keyctl: a key one
submission adds would outlive it and be readable by the next one under the same uid) and new user
namespaces (unshare or clone with CLONE_NEWUSER: kernel surface a submission never needs). clone3 gets
ENOSYS, so the C library falls back to clone, whose flags the filter can read. Other architectures' and
x32 system calls are refused. Everything else is allowed: the namespaces and limits do the rest."""
from __future__ import annotations

import errno
import os
import platform
import struct

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
NR, ARCH, ARG0 = 0, 4, 16
LD_ABS, JEQ, JSET, RET = 0x20, 0x15, 0x45, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JSET|K, BPF_RET|K
ALLOW = 0x7FFF0000
ERRNO = 0x00050000
CLONE_NEWUSER = 0x10000000
X32_BIT = 0x40000000

# audit arch, and syscall numbers: add_key, request_key, keyctl, unshare, clone, clone3
SYSCALLS = {
    "x86_64": (0xC000003E, {"add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272, "clone": 56, "clone3": 435}),
    "aarch64": (0xC00000B7, {"add_key": 217, "request_key": 218, "keyctl": 219, "unshare": 97, "clone": 220, "clone3": 435}),
}


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def filter_program(machine: str | None = None) -> bytes | None:
    """Return the filter for this machine's architecture, or None where it is not known."""
    known = SYSCALLS.get(machine or platform.machine())
    if known is None:
        return None
    arch, nr = known
    deny = lambda e: _op(RET, ERRNO | e)  # noqa: E731
    program = [
        _op(LD_ABS, ARCH), _op(JEQ, arch, 1, 0), deny(errno.ENOSYS),
        _op(LD_ABS, NR),
    ]
    if arch == SYSCALLS["x86_64"][0]:
        program += [_op(JSET, X32_BIT, 0, 1), deny(errno.ENOSYS)]
    for name in ("add_key", "request_key", "keyctl"):
        program += [_op(JEQ, nr[name], 0, 1), deny(errno.EPERM)]
    program += [_op(JEQ, nr["clone3"], 0, 1), deny(errno.ENOSYS)]
    # unshare(flags) and clone(flags, ...): flags is the first argument on both architectures
    program += [_op(JEQ, nr["unshare"], 1, 0), _op(JEQ, nr["clone"], 0, 3),
                _op(LD_ABS, ARG0), _op(JSET, CLONE_NEWUSER, 0, 1), deny(errno.EPERM)]
    program += [_op(RET, ALLOW)]
    return b"".join(program)


def filter_fd() -> int | None:
    """Return a readable descriptor holding the filter (for bwrap --seccomp), or None if unknown here."""
    program = filter_program()
    if program is None:
        return None
    read_end, write_end = os.pipe()
    os.write(write_end, program)  # a few hundred bytes: fits in the pipe
    os.close(write_end)
    return read_end

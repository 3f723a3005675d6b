; The plugin of the plugin_host example, in the kernel's log syntax.
; r1: struct request { u32 user; u32 size; u32 verdict; u32 pad; }
; Denies (verdict 1) a request bigger than the user's quota, and audits
; every request through the host.
r6 = r1
r1 = *(u32 *)(r6 + 0)
call 1000
r7 = *(u32 *)(r6 + 4)
r8 = 0
if r7 <= r0 goto +1
r8 = 1
*(u32 *)(r6 + 8) = r8
r1 = *(u32 *)(r6 + 0)
*(u32 *)(r10 - 8) = r1
*(u32 *)(r10 - 4) = r7
r1 = r10
r1 += -8
call 1001
r0 = r8
exit

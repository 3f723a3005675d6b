// SPDX-License-Identifier: Apache-2.0
// The plugin_host example's plugin (data/plugin.s), written in C for a
// custom program type: the host declares `struct request` and the two
// helpers at run time. Built by build.sh; loaded with
// Program::from_elf_with_type (the section name says no kernel type).
typedef unsigned int __u32;
typedef unsigned long long __u64;

#define SEC(name) __attribute__((section(name), used))

struct request {
	__u32 user;
	__u32 size;
	__u32 verdict;
	__u32 pad;
};

static __u64 (*quota)(__u64 user) = (void *)1000;
static __u64 (*audit)(const void *record) = (void *)1001;

SEC("plugin")
int decide(struct request *req)
{
	__u32 record[2] = { req->user, req->size };
	int deny = req->size > quota(req->user);

	req->verdict = deny;
	audit(record);
	return deny;
}

char _license[] SEC("license") = "GPL";

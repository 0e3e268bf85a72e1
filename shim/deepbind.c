/* Libraries loaded with RTLD_DEEPBIND (PHP loads every extension so, and
 * php-curl's libcurl with it) bind their symbols in their own dependency
 * tree before the global scope: libcurl's SSL_write goes straight to libssl
 * and never reaches a preloaded hook. After such a load, the GOT slots of
 * the newly loaded objects that are bound (or, lazily, would be bound) to
 * the very libssl functions our hooks call are pointed at our hooks, which
 * is what a load without the flag would have bound. Every other symbol, and
 * every SSL_* the deep binding finds elsewhere (a library's own, another
 * copy of libssl), keeps its deep binding: dropping the flag instead would
 * change how the host's whole extension tree binds.
 *
 * dlopen itself is interposed by a jump, not a call: glibc takes the
 * caller's address to choose the namespace and the DT_RPATH/DT_RUNPATH a
 * bare name is searched in, and a jump leaves the host's caller in place.
 * Only a deep-binding load of a path (a name with a '/', which is searched
 * nowhere) is made from here, so that its objects can be bound after it. */
#include "deepbind.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "real.h"

/* Read by the jump in dlopen below, so not static. */
__attribute__((used, visibility("hidden"))) void *(*spz_real_dlopen)(const char *, int);
__attribute__((used, visibility("hidden"))) volatile unsigned char spz_deepbind_on;

__attribute__((used, visibility("hidden"))) void *spz_dlopen_resolve(void)
{
	void *p = dlsym(RTLD_NEXT, "dlopen");
	if (!p)
		p = dlvsym(RTLD_NEXT, "dlopen", "GLIBC_2.34");
	if (!p)
		p = dlvsym(RTLD_NEXT, "dlopen", "GLIBC_2.2.5");
	if (p)
		__atomic_store_n(&spz_real_dlopen, (void *(*)(const char *, int))p, __ATOMIC_RELEASE);
	return p;
}

#if defined(__x86_64__)
__attribute__((used, visibility("hidden"))) void *spz_dlopen_deepbind(const char *file, int mode);

/* Whether a deep-binding load is of a path. */
__attribute__((used, visibility("hidden"))) int spz_deepbind_wanted(const char *file)
{
	return strchr(file, '/') != NULL;
}

/* dlopen(file, mode): file in rdi, mode in esi. A deep-binding load of a
 * path goes on to spz_dlopen_deepbind, everything else to the real dlopen,
 * both by jump; the calls made on the way keep the arguments around them.
 * Before the real one is known (a constructor that ran before ours), it is
 * looked up first. */
__asm__(".text\n"
	/* Calls fn with dlopen's arguments kept across it (and the stack
	 * aligned for it); fn's answer in rax. */
	".macro spz_call_keeping_args fn\n"
	"	pushq %rdi\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pushq %rsi\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	subq $8, %rsp\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	call \\fn\n"
	"	addq $8, %rsp\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	popq %rsi\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	popq %rdi\n"
	"	.cfi_adjust_cfa_offset -8\n"
	".endm\n"
	".globl dlopen\n"
	".type dlopen, @function\n"
	"dlopen:\n"
	"	.cfi_startproc\n"
	/* An indirect branch lands here (the host's PLT): with CET's
	 * indirect-branch tracking on, only on this; a no-op elsewhere. */
	"	endbr64\n"
	"	movq spz_real_dlopen(%rip), %rax\n"
	"	testq %rax, %rax\n"
	"	jz 2f\n"
	"1:\n"
	"	testl $8, %esi\n" /* RTLD_DEEPBIND */
	"	jz 3f\n"
	"	cmpb $0, spz_deepbind_on(%rip)\n"
	"	je 3f\n"
	"	testq %rdi, %rdi\n"
	"	jz 3f\n"
	"	spz_call_keeping_args spz_deepbind_wanted\n"
	"	testl %eax, %eax\n"
	"	jz 4f\n"
	"	jmp spz_dlopen_deepbind\n"
	"4:\n"
	"	movq spz_real_dlopen(%rip), %rax\n"
	"3:\n"
	"	jmpq *%rax\n"
	"2:\n"
	"	spz_call_keeping_args spz_dlopen_resolve\n"
	"	testq %rax, %rax\n"
	"	jnz 1b\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size dlopen, .-dlopen\n"
	".purgem spz_call_keeping_args\n");

/* The functions we hook that a deep-bound object may name (real.c has
 * their names). */
static const enum spz_fn hooked[] = {
	SPZ_FN_SSL_write, SPZ_FN_SSL_write_ex, SPZ_FN_SSL_read,    SPZ_FN_SSL_read_ex,
	SPZ_FN_SSL_peek,  SPZ_FN_SSL_peek_ex,  SPZ_FN_SSL_pending, SPZ_FN_SSL_has_pending,
	SPZ_FN_SSL_free,  SPZ_FN_SSL_shutdown, SPZ_FN_SSL_clear,
};
#define HOOKED_COUNT (sizeof(hooked) / sizeof(hooked[0]))
#define CHAIN_MAX 256

struct bind_ctx {
	struct link_map *from;   /* the loaded object: it and those after it in its namespace */
	const void *self_ld;     /* our own dynamic section: never rebound */
	void *hook[HOOKED_COUNT]; /* our hook, when it is what the global scope gives */
	void *real[HOOKED_COUNT]; /* the libssl function our hook calls */
	void *deep[HOOKED_COUNT]; /* what the loaded object's own scope gives */
	bool collected;
	size_t n;
	const void *ld[CHAIN_MAX];
	unsigned bound; /* slots pointed at a hook */
};

/* Points one slot at target. A slot inside the object's RELRO (read-only
 * since its load) is made writable for the store and read-only again; a
 * page that cannot be is left as it is, and that reference untracked. */
static bool set_slot(void **slot, void *target, uintptr_t relro_lo, uintptr_t relro_hi)
{
	uintptr_t a = (uintptr_t)slot;
	if (a >= relro_lo && a + sizeof(void *) <= relro_hi) {
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		void *p = (void *)(a & ~(uintptr_t)(page - 1));
		if (mprotect(p, page, PROT_READ | PROT_WRITE) != 0)
			return false;
		__atomic_store_n(slot, target, __ATOMIC_RELEASE);
		mprotect(p, page, PROT_READ);
		return true;
	}
	__atomic_store_n(slot, target, __ATOMIC_RELEASE);
	return true;
}

/* Where an object lies in memory: a lazily bound slot not yet resolved
 * points into the object's own PLT. */
struct extent {
	uintptr_t lo, hi;
};

/* A slot is rebound only when the hook would call exactly the function it
 * is bound to (or, still unresolved, would be bound to): never when the
 * deep binding picks another copy of libssl, or another library's SSL_*
 * (the reason a host asks for deep binding), whose objects our hooks'
 * libssl must never be handed. */
static void bind_relocs(struct bind_ctx *c, uintptr_t base, const ElfW(Rela) *r, size_t bytes,
			const ElfW(Sym) *symtab, const char *strtab, struct extent self, uintptr_t relro_lo,
			uintptr_t relro_hi)
{
	for (size_t i = 0; r && i < bytes / sizeof(*r); i++) {
		unsigned long type = ELF64_R_TYPE(r[i].r_info);
		if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
			continue;
		size_t s = ELF64_R_SYM(r[i].r_info);
		const ElfW(Sym) *sym = &symtab[s];
		if (sym->st_shndx != SHN_UNDEF || sym->st_name == 0)
			continue;
		const char *name = strtab + sym->st_name;
		if (name[0] != 'S' || strncmp(name, "SSL_", 4) != 0)
			continue;
		for (size_t h = 0; h < HOOKED_COUNT; h++) {
			if (strcmp(name, spz_real_name(hooked[h])) != 0)
				continue;
			void **slot = (void **)(base + r[i].r_offset);
			void *now = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
			bool unresolved = (uintptr_t)now >= self.lo && (uintptr_t)now < self.hi;
			bool ours_to_take = now == c->real[h] || (unresolved && c->deep[h] == c->real[h]);
			if (c->hook[h] && c->real[h] && ours_to_take && set_slot(slot, c->hook[h], relro_lo, relro_hi))
				c->bound++;
			break;
		}
	}
}

/* A dynamic entry's address: glibc relocates most of them in place (not on
 * every architecture), so a value below the load base is still an offset. */
static uintptr_t dyn_addr(uintptr_t base, ElfW(Addr) v)
{
	return v < base ? base + v : v;
}

static void bind_object(struct bind_ctx *c, const struct dl_phdr_info *info, const ElfW(Dyn) *dyn)
{
	uintptr_t base = info->dlpi_addr;
	uintptr_t relro_lo = 0, relro_hi = 0;
	struct extent self = { UINTPTR_MAX, 0 };
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD) {
			if (base + ph->p_vaddr < self.lo)
				self.lo = base + ph->p_vaddr;
			if (base + ph->p_vaddr + ph->p_memsz > self.hi)
				self.hi = base + ph->p_vaddr + ph->p_memsz;
		}
		if (ph->p_type == PT_GNU_RELRO) {
			/* As the loader protected it: whole pages only. */
			uintptr_t lo = base + ph->p_vaddr;
			relro_lo = lo & ~(uintptr_t)(page - 1);
			relro_hi = (lo + ph->p_memsz) & ~(uintptr_t)(page - 1);
		}
	}
	const ElfW(Sym) *symtab = NULL;
	const char *strtab = NULL;
	const ElfW(Rela) *jmprel = NULL, *rela = NULL;
	size_t jmprel_size = 0, rela_size = 0;
	bool pltrel_rela = true;
	for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
		switch (d->d_tag) {
		case DT_SYMTAB: symtab = (const ElfW(Sym) *)dyn_addr(base, d->d_un.d_ptr); break;
		case DT_STRTAB: strtab = (const char *)dyn_addr(base, d->d_un.d_ptr); break;
		case DT_JMPREL: jmprel = (const ElfW(Rela) *)dyn_addr(base, d->d_un.d_ptr); break;
		case DT_PLTRELSZ: jmprel_size = d->d_un.d_val; break;
		case DT_PLTREL: pltrel_rela = d->d_un.d_val == DT_RELA; break;
		case DT_RELA: rela = (const ElfW(Rela) *)dyn_addr(base, d->d_un.d_ptr); break;
		case DT_RELASZ: rela_size = d->d_un.d_val; break;
		default: break;
		}
	}
	if (!symtab || !strtab)
		return;
	if (pltrel_rela)
		bind_relocs(c, base, jmprel, jmprel_size, symtab, strtab, self, relro_lo, relro_hi);
	bind_relocs(c, base, rela, rela_size, symtab, strtab, self, relro_lo, relro_hi);
}

/* Called with the loader's lock held: no object is added or removed while
 * the chain is read and the slots written. */
static int bind_cb(struct dl_phdr_info *info, size_t size, void *ud)
{
	(void)size;
	struct bind_ctx *c = ud;
	if (!c->collected) {
		c->collected = true;
		for (struct link_map *m = c->from; m && c->n < CHAIN_MAX; m = m->l_next)
			if (m->l_ld != c->self_ld)
				c->ld[c->n++] = m->l_ld;
	}
	const ElfW(Dyn) *dyn = NULL;
	for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
			dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
	if (!dyn)
		return 0;
	for (size_t k = 0; k < c->n; k++)
		if (c->ld[k] == dyn) {
			bind_object(c, info, dyn);
			break;
		}
	return 0;
}

unsigned spz_deepbind_rebind(void *handle)
{
	struct bind_ctx c = { 0 };
	struct link_map *lm = NULL;
	if (!handle || dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm)
		return 0;
	Dl_info self_info;
	struct link_map *self = NULL;
	if (dladdr1((void *)spz_deepbind_rebind, &self_info, (void **)&self, RTLD_DL_LINKMAP) && self)
		c.self_ld = self->l_ld;
	/* Looked up before the loader's lock is taken: both may take it. A
	 * hook is used only where the global scope gives ours (a host or an
	 * earlier preload defining SSL_* itself is left its deep binding). */
	for (size_t h = 0; h < HOOKED_COUNT; h++) {
		const char *name = spz_real_name(hooked[h]);
		void *global = dlsym(RTLD_DEFAULT, name);
		Dl_info gi;
		struct link_map *gm = NULL;
		if (global && self && dladdr1(global, &gi, (void **)&gm, RTLD_DL_LINKMAP) && gm == self)
			c.hook[h] = global;
		c.real[h] = spz_real(hooked[h]);
		c.deep[h] = dlsym(handle, name);
	}
	/* The lookups' misses must not show as the host's dlopen error. */
	(void)dlerror();
	c.from = lm;
	dl_iterate_phdr(bind_cb, &c);
	return c.bound;
}

/* Entered by the jump from dlopen: the return address is the host's. */
void *spz_dlopen_deepbind(const char *file, int mode)
{
	void *(*real)(const char *, int) = __atomic_load_n(&spz_real_dlopen, __ATOMIC_ACQUIRE);
	/* The caller's namespace, which a call from here would not keep. */
	void *caller = __builtin_return_address(0);
	Dl_info ci;
	struct link_map *cm = NULL;
	Lmid_t ns = LM_ID_BASE;
	if (dladdr1(caller, &ci, (void **)&cm, RTLD_DL_LINKMAP) && cm)
		dlinfo(cm, RTLD_DI_LMID, &ns);
	if (ns != LM_ID_BASE)
		return dlmopen(ns, file, mode);
	void *h = real(file, mode);
	if (h)
		spz_deepbind_rebind(h);
	return h;
}

#else
unsigned spz_deepbind_rebind(void *handle)
{
	(void)handle;
	return 0;
}
#endif

void spz_deepbind_enable(bool on)
{
	if (!__atomic_load_n(&spz_real_dlopen, __ATOMIC_ACQUIRE))
		spz_dlopen_resolve();
	spz_deepbind_on = on;
}

/* faultlab kernel lab: the timed loops, with no Python between system calls.
 *
 * Built on first use by faultlab/kernel_lab/native.py with the system C
 * compiler (cc -O2 -shared -fPIC -pthread) into a per-user cache directory
 * and loaded with ctypes.CDLL, which releases the GIL for the length of each
 * call.  Every function here runs one whole loop (or one whole calibration)
 * per call; times are CLOCK_MONOTONIC, the clock tracefs's "mono" uses.
 *
 *   fl_mapper      mmap + munmap of one anonymous page until a deadline
 *                  (both take mmap_lock for writing: mm/util.c vm_mmap_pgoff,
 *                  mm/vma.c do_vmi_munmap via __vm_munmap)
 *   fl_reader      one access per never-read page of a FUSE file until a
 *                  deadline: an ordinary load (a user page fault) or a pread
 *                  of that address through /proc/self/mem
 *   fl_guarded_read  one load that turns SIGBUS (the FUSE server died under
 *                  a fault: filemap_fault answers VM_FAULT_SIGBUS) into -1
 *   fl_syscall_costs, fl_minor_faults, fl_wakeup, fl_slice   calibration
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FL_ABI 1
#define FL_HBUCKETS 4096

int fl_abi(void) { return FL_ABI; }

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
    struct timespec ts = { (time_t)(t / 1000000000ull), (long)(t % 1000000000ull) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* Pin the calling thread to one CPU (cpu < 0: leave it free). */
int fl_pin(int cpu)
{
    cpu_set_t set;
    if (cpu < 0)
        return 0;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* A log-linear histogram (64 sub-buckets per power of two, about 1.5%
 * resolution): exact below 64 ns.  native.py decodes the bucket bounds. */
static inline int hbucket(uint64_t ns)
{
    int e;
    if (ns < 64)
        return (int)ns;
    e = 63 - __builtin_clzll(ns);
    return (e - 5) * 64 + (int)((ns >> (e - 6)) & 63);
}

/* ------------------------------------------------------------- SIGBUS guard */
static __thread sigjmp_buf *fl_jmp;
static struct sigaction fl_old_bus;
static int fl_guard_on;

static void fl_on_bus(int sig, siginfo_t *si, void *uc)
{
    sigjmp_buf *j = fl_jmp;
    (void)sig; (void)si; (void)uc;
    if (j) {
        fl_jmp = NULL;
        siglongjmp(*j, 1);
    }
    /* Not a guarded access: give the signal back to whoever had it; the
     * faulting instruction runs again and raises it there. */
    sigaction(SIGBUS, &fl_old_bus, NULL);
}

int fl_guard_install(void)
{
    struct sigaction sa;
    if (fl_guard_on)
        return 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = fl_on_bus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &fl_old_bus))
        return -errno;
    fl_guard_on = 1;
    return 0;
}

int fl_guard_remove(void)
{
    if (!fl_guard_on)
        return 0;
    fl_guard_on = 0;
    return sigaction(SIGBUS, &fl_old_bus, NULL) ? -errno : 0;
}

/* Copy n bytes from a file mapping: 0, or -1 if the access raised SIGBUS. */
__attribute__((noinline)) int fl_guarded_read(const char *addr, char *out, size_t n)
{
    sigjmp_buf env;
    fl_jmp = NULL;                      /* allocates this thread's TLS now, not in the handler */
    if (sigsetjmp(env, 1)) {
        fl_jmp = NULL;
        return -1;
    }
    fl_jmp = &env;
    memcpy(out, addr, n);
    __asm__ volatile("" ::: "memory");
    fl_jmp = NULL;
    return 0;
}

/* -------------------------------------------------------------- the mapper */
struct fl_mapper {
    int32_t cpu;            /* in: CPU to pin to, -1 = free */
    int32_t err;            /* out: errno of a failed call, 0 */
    uint64_t start_ns;      /* in: first call not before this */
    uint64_t end_ns;        /* in: no new loop after this */
    uint64_t long_ns;       /* in: calls at least this long are kept one by one */
    uint64_t long_cap;      /* in: room in long_buf (entries of 3) */
    uint64_t *long_buf;     /* out: start_ns, end_ns, kind (0 mmap, 1 munmap) */
    uint64_t long_n;        /* out */
    uint64_t loops;         /* out: completed mmap + munmap pairs */
    uint64_t first_ns, last_ns;   /* out: when the loop ran */
    uint64_t max_ns;        /* out: the longest call */
    uint64_t hist[FL_HBUCKETS];   /* out: every call's duration */
};

static inline void mapper_note(struct fl_mapper *m, uint64_t a, uint64_t b, uint64_t kind)
{
    uint64_t d = b - a;
    m->hist[hbucket(d)]++;
    if (d > m->max_ns)
        m->max_ns = d;
    if (d >= m->long_ns && m->long_n < m->long_cap) {
        m->long_buf[3 * m->long_n] = a;
        m->long_buf[3 * m->long_n + 1] = b;
        m->long_buf[3 * m->long_n + 2] = kind;
        m->long_n++;
    }
}

int fl_mapper(struct fl_mapper *m)
{
    long ps = sysconf(_SC_PAGESIZE);
    uint64_t t0, t1, t2;
    int r;
    if ((r = fl_pin(m->cpu)))
        return m->err = -r, -1;
    sleep_until(m->start_ns);
    t0 = m->first_ns = now_ns();
    while (t0 < m->end_ns) {
        void *p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        t1 = now_ns();
        if (p == MAP_FAILED)
            return m->err = errno, -1;
        mapper_note(m, t0, t1, 0);
        r = munmap(p, ps);
        t2 = now_ns();
        if (r)
            return m->err = errno, -1;
        mapper_note(m, t1, t2, 1);
        m->loops++;
        t0 = t2;
    }
    m->last_ns = t0;
    return 0;
}

/* -------------------------------------------------------------- the reader */
struct fl_reader {
    int32_t cpu;            /* in: CPU to pin to, -1 = free */
    int32_t memfd;          /* in: /proc/self/mem fd (procmem path), or -1 (fault path) */
    uint64_t start_ns, end_ns;
    char *base;             /* in: the file mapping */
    uint64_t page_size;
    const uint32_t *order;  /* in: the pages to read, in order, each once */
    uint64_t n_order;
    uint64_t *starts, *ends;   /* out: one entry per access (room for n_order) */
    uint64_t n;             /* out: accesses made */
    int32_t err;            /* out: errno of a failed pread */
    int32_t sigbus;         /* out: 1 if an access raised SIGBUS */
};

int fl_reader(struct fl_reader *rd)
{
    char buf[8];
    uint64_t i, t0, t1;
    int r;
    if ((r = fl_pin(rd->cpu)))
        return rd->err = -r, -1;
    sleep_until(rd->start_ns);
    t0 = now_ns();
    for (i = 0; i < rd->n_order && t0 < rd->end_ns; i++) {
        char *addr = rd->base + (uint64_t)rd->order[i] * rd->page_size;
        if (rd->memfd >= 0) {
            ssize_t got = pread(rd->memfd, buf, 1, (off_t)(uintptr_t)addr);
            t1 = now_ns();
            if (got != 1) {
                rd->err = got < 0 ? errno : EIO;
                rd->starts[i] = t0, rd->ends[i] = t1, rd->n = i + 1;
                return -1;
            }
        } else {
            r = fl_guarded_read(addr, buf, 1);
            t1 = now_ns();
            if (r) {
                rd->sigbus = 1;
                rd->starts[i] = t0, rd->ends[i] = t1, rd->n = i + 1;
                return -1;
            }
        }
        rd->starts[i] = t0;
        rd->ends[i] = t1;
        rd->n = i + 1;
        t0 = now_ns();
    }
    return 0;
}

/* ------------------------------------------------------------- calibration */
/* n rounds of mmap + munmap of one anonymous page: each call's duration. */
int fl_syscall_costs(int cpu, uint64_t n, uint32_t *mmap_ns, uint32_t *munmap_ns)
{
    long ps = sysconf(_SC_PAGESIZE);
    uint64_t i, t0, t1, t2;
    if (fl_pin(cpu))
        return -1;
    for (i = 0; i < n; i++) {
        void *p;
        t0 = now_ns();
        p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        t1 = now_ns();
        if (p == MAP_FAILED || munmap(p, ps))
            return -1;
        t2 = now_ns();
        mmap_ns[i] = (uint32_t)(t1 - t0);
        munmap_ns[i] = (uint32_t)(t2 - t1);
    }
    return 0;
}

/* Minor faults: the first write to each of n fresh anonymous pages
 * (mm/memory.c do_anonymous_page), each timed. */
int fl_minor_faults(int cpu, uint64_t n, uint32_t *ns)
{
    long ps = sysconf(_SC_PAGESIZE);
    uint64_t i, t0, t1;
    volatile char *p;
    if (fl_pin(cpu))
        return -1;
    p = mmap(NULL, n * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    madvise((void *)p, n * ps, MADV_NOHUGEPAGE);
    for (i = 0; i < n; i++) {
        t0 = now_ns();
        p[i * ps] = 1;
        t1 = now_ns();
        ns[i] = (uint32_t)(t1 - t0);
    }
    munmap((void *)p, n * ps);
    return 0;
}

/* The clock's own cost: back-to-back reads. */
uint64_t fl_clock_ns(uint64_t n)
{
    uint64_t i, t0 = now_ns(), t = t0;
    for (i = 0; i < n; i++)
        t = now_ns();
    return n ? (t - t0) / n : 0;
}

/* Wake-up latency: a thread asleep in futex_wait on one CPU, woken by
 * futex_wake from another; from just before the wake call to the sleeper
 * running again.  The sleeper's CPU is idle while it sleeps. */
struct wake_ctx {
    int cpu_sleeper, cpu_waker;
    uint64_t n, gap_ns;
    uint32_t *lat_ns;
    volatile uint32_t word;
    volatile uint32_t asleep;      /* rounds the sleeper has entered */
    volatile uint32_t woken;       /* rounds the sleeper has finished */
    volatile uint64_t t_wake;
    int err;
};

static long futex(volatile uint32_t *a, int op, uint32_t v)
{
    return syscall(SYS_futex, a, op, v, NULL, NULL, 0);
}

static void *wake_sleeper(void *arg)
{
    struct wake_ctx *c = arg;
    uint64_t i;
    if (fl_pin(c->cpu_sleeper))
        c->err = 1;
    for (i = 0; i < c->n; i++) {
        __atomic_store_n(&c->asleep, (uint32_t)(i + 1), __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&c->word, __ATOMIC_SEQ_CST) == 0)
            futex(&c->word, FUTEX_WAIT_PRIVATE, 0);
        c->lat_ns[i] = (uint32_t)(now_ns() - c->t_wake);
        __atomic_store_n(&c->word, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&c->woken, (uint32_t)(i + 1), __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void *wake_waker(void *arg)
{
    struct wake_ctx *c = arg;
    uint64_t i;
    if (fl_pin(c->cpu_waker))
        c->err = 1;
    for (i = 0; i < c->n; i++) {
        while (__atomic_load_n(&c->asleep, __ATOMIC_SEQ_CST) != i + 1)
            ;
        sleep_until(now_ns() + c->gap_ns);     /* let it fall asleep, its CPU go idle */
        c->t_wake = now_ns();
        __atomic_store_n(&c->word, 1, __ATOMIC_SEQ_CST);
        futex(&c->word, FUTEX_WAKE_PRIVATE, 1);
        while (__atomic_load_n(&c->woken, __ATOMIC_SEQ_CST) != i + 1)
            ;
    }
    return NULL;
}

int fl_wakeup(int cpu_waker, int cpu_sleeper, uint64_t n, uint64_t gap_ns, uint32_t *lat_ns)
{
    struct wake_ctx c;
    pthread_t a, b;
    memset(&c, 0, sizeof(c));
    c.cpu_sleeper = cpu_sleeper, c.cpu_waker = cpu_waker;
    c.n = n, c.gap_ns = gap_ns, c.lat_ns = lat_ns;
    if (pthread_create(&a, NULL, wake_sleeper, &c))
        return -1;
    if (pthread_create(&b, NULL, wake_waker, &c)) {
        c.n = 0;
        pthread_cancel(a);
        pthread_join(a, NULL);
        return -1;
    }
    pthread_join(b, NULL);
    pthread_join(a, NULL);
    return c.err ? -1 : 0;
}

/* The scheduler's slice as a task sees it: two spinning threads pinned to
 * one CPU; each records how long it ran between two gaps (a gap longer than
 * gap_ns means the other one had the CPU). */
struct slice_ctx {
    int cpu;
    uint64_t end_ns, gap_ns, cap;
    uint32_t *run_ns;
    uint64_t n;
};

static void *slice_spin(void *arg)
{
    struct slice_ctx *c = arg;
    uint64_t t, prev, since;
    fl_pin(c->cpu);
    prev = since = now_ns();
    while ((t = now_ns()) < c->end_ns) {
        if (t - prev > c->gap_ns) {
            if (c->n < c->cap)
                c->run_ns[c->n++] = (uint32_t)(prev - since);
            since = t;
        }
        prev = t;
    }
    return NULL;
}

/* Fills run_a and run_b (room for cap each) and counts[0..1] with how many
 * each kept; a thread's first stretch began at its start, not at a switch. */
int fl_slice(int cpu, uint64_t duration_ns, uint64_t gap_ns, uint64_t cap,
             uint32_t *run_a, uint32_t *run_b, uint64_t *counts)
{
    struct slice_ctx a = { cpu, 0, gap_ns, cap, run_a, 0 }, b = a;
    pthread_t ta, tb;
    a.end_ns = b.end_ns = now_ns() + duration_ns;
    b.run_ns = run_b;
    if (pthread_create(&ta, NULL, slice_spin, &a))
        return -1;
    if (pthread_create(&tb, NULL, slice_spin, &b)) {
        pthread_join(ta, NULL);
        return -1;
    }
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    counts[0] = a.n, counts[1] = b.n;
    return 0;
}

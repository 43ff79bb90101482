/* Timed waits under faketime, for the date-sensitive days of .ci/run.
 *
 * libfaketime 0.9.10 (Debian's `faketime`) shifts CLOCK_MONOTONIC with the faked date but does not intercept
 * sem_clockwait(), which CPython 3.11 uses for every lock acquired with a timeout: threading.Event.wait(1),
 * Timer, Queue.get(timeout=...), Thread.join(1). Python computes the deadline on the shifted clock and the
 * kernel waits for it on the real one, months away: the wait never ends (libfaketime issue #390; its
 * workaround FAKETIME_DONT_FAKE_MONOTONIC=1 makes time.sleep fail with EINVAL in this version).
 *
 * Preloaded beside libfaketime, this moves the deadline onto the kernel's clock: the time left as the program
 * sees it, added to the kernel's now. Nothing else is touched; outside faketime it changes nothing (the two
 * clocks agree). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <semaphore.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int sem_clockwait(sem_t *sem, clockid_t clock, const struct timespec *abstime)
{
    static int (*next)(sem_t *, clockid_t, const struct timespec *);
    struct timespec seen, real, deadline;
    long long left, at;

    if (!next)
        next = (int (*)(sem_t *, clockid_t, const struct timespec *))dlsym(RTLD_NEXT, "sem_clockwait");
    clock_gettime(clock, &seen);               /* the clock as the program sees it (libfaketime's) */
    syscall(SYS_clock_gettime, clock, &real);  /* the kernel's, on which the wait runs */
    left = (abstime->tv_sec - seen.tv_sec) * 1000000000LL + (abstime->tv_nsec - seen.tv_nsec);
    at = real.tv_sec * 1000000000LL + real.tv_nsec + (left > 0 ? left : 0);
    deadline.tv_sec = at / 1000000000LL;
    deadline.tv_nsec = at % 1000000000LL;
    return next(sem, clock, &deadline);
}

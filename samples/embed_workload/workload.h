/* The workload the embedding samples profile: hot_a() and hot_b() in a known 2:1 ratio of CPU
 * time, called as workload_run -> one_round -> hot_a | hot_b, in C so that C and C++ programs
 * share it. */
#ifndef DPROF_SAMPLES_EMBED_WORKLOAD_WORKLOAD_H_
#define DPROF_SAMPLES_EMBED_WORKLOAD_WORKLOAD_H_

#ifdef __cplusplus
extern "C" {
#endif

/* Runs rounds of hot_a() then hot_b() for `seconds` of wall time on the calling thread. */
void workload_run(double seconds);
/* One round: hot_a() then hot_b(), about a millisecond of CPU (its length varies with x); returns
 * the new state. */
unsigned long long one_round(unsigned long long x);

#ifdef __cplusplus
}
#endif

#endif /* DPROF_SAMPLES_EMBED_WORKLOAD_WORKLOAD_H_ */

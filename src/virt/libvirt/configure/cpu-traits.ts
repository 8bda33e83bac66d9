// Placement CPU traits ↔ libvirt feature flags (Nova's CPU_TRAITS_MAPPING,
// nova/virt/libvirt/utils.py).
export const CPU_TRAITS_MAPPING: Record<string, string> = {
  HW_CPU_X86_3DNOW: '3dnow',
  HW_CPU_X86_ABM: 'abm',
  HW_CPU_X86_AESNI: 'aes',
  HW_CPU_X86_AVX: 'avx',
  HW_CPU_X86_AVX2: 'avx2',
  HW_CPU_X86_AVX512BW: 'avx512bw',
  HW_CPU_X86_AVX512CD: 'avx512cd',
  HW_CPU_X86_AVX512DQ: 'avx512dq',
  HW_CPU_X86_AVX512ER: 'avx512er',
  HW_CPU_X86_AVX512F: 'avx512f',
  HW_CPU_X86_AVX512PF: 'avx512pf',
  HW_CPU_X86_AVX512VL: 'avx512vl',
  HW_CPU_X86_AVX512VNNI: 'avx512vnni',
  HW_CPU_X86_AVX512VBMI: 'avx512vbmi',
  HW_CPU_X86_AVX512IFMA: 'avx512ifma',
  HW_CPU_X86_AVX512VBMI2: 'avx512vbmi2',
  HW_CPU_X86_AVX512BITALG: 'avx512bitalg',
  HW_CPU_X86_AVX512VAES: 'vaes',
  HW_CPU_X86_AVX512GFNI: 'gfni',
  HW_CPU_X86_AVX512VPCLMULQDQ: 'vpclmulqdq',
  HW_CPU_X86_AVX512VPOPCNTDQ: 'avx512-vpopcntdq',
  HW_CPU_X86_BMI: 'bmi1',
  HW_CPU_X86_BMI2: 'bmi2',
  HW_CPU_X86_CLMUL: 'pclmuldq',
  HW_CPU_X86_F16C: 'f16c',
  HW_CPU_X86_FMA3: 'fma',
  HW_CPU_X86_FMA4: 'fma4',
  HW_CPU_X86_MMX: 'mmx',
  HW_CPU_X86_MPX: 'mpx',
  HW_CPU_X86_SHA: 'sha-ni',
  HW_CPU_X86_SSE: 'sse',
  HW_CPU_X86_SSE2: 'sse2',
  HW_CPU_X86_SSE3: 'sse3',
  HW_CPU_X86_SSE41: 'sse4.1',
  HW_CPU_X86_SSE42: 'sse4.2',
  HW_CPU_X86_SSE4A: 'sse4a',
  HW_CPU_X86_SSSE3: 'ssse3',
  HW_CPU_X86_SVM: 'svm',
  HW_CPU_X86_AMD_SVM: 'svm',
  HW_CPU_X86_TBM: 'tbm',
  HW_CPU_X86_VMX: 'vmx',
  HW_CPU_X86_INTEL_VMX: 'vmx',
  HW_CPU_X86_XOP: 'xop',
  HW_CPU_X86_AMXBF16: 'amx-bf16',
  HW_CPU_X86_AMXINT8: 'amx-int8',
  HW_CPU_X86_AMXTILE: 'amx-tile',
};

/** libvirt flag → the traits it reports (the reverse map; svm and vmx report two each). */
export function traitsForFlag(flag: string): string[] {
  return Object.entries(CPU_TRAITS_MAPPING)
    .filter(([, f]) => f === flag)
    .map(([t]) => t);
}

const TRAIT_KEY = /^(resources|trait)([a-zA-Z0-9_-]{1,64})?:(.*)$/;

/** Required traits in flavor extra specs / image properties (`trait[N]:NAME=required`). */
export function requiredTraits(...sources: Record<string, string>[]): string[] {
  const out = new Set<string>();
  for (const src of sources) {
    for (const [key, value] of Object.entries(src)) {
      const m = TRAIT_KEY.exec(key);
      if (!m || m[1] !== 'trait') continue;
      if (value === 'required') out.add(m[3]);
    }
  }
  return [...out].sort();
}

/** Traits mapped to libvirt flags; traits with no CPU flag are dropped. */
export function flagsForTraits(traits: string[]): string[] {
  const flags = new Set<string>();
  for (const t of traits) {
    const f = CPU_TRAITS_MAPPING[t];
    if (f) flags.add(f);
  }
  return [...flags].sort();
}

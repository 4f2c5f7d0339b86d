// Placeholder until the Vault keystore work lands: reports OpenBao as not started.
export async function startOpenBao(): Promise<{ addr: string; token: string; stop: () => Promise<void> } | { error: string }> {
  return { error: 'OpenBao start-up not implemented yet' };
}

namespace CimAspire.ZooKeeper.Registry;

/// <summary>An auto-reset signal: any number of Set calls before a wait count once (a refresh covers them all).</summary>
internal sealed class CoalescingSignal
{
    private readonly SemaphoreSlim _semaphore = new(0, 1);

    public void Set()
    {
        try
        {
            _semaphore.Release();
        }
        catch (SemaphoreFullException)
        {
        }
    }

    public Task WaitAsync(CancellationToken cancellationToken)
    {
        return _semaphore.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="work"/> each time the signal is set until <paramref name="token"/> is cancelled or the
    /// client is closed under it. A failure is reported, then retried after <paramref name="retryDelay"/>.
    /// </summary>
    public async Task RunAsync(Func<CancellationToken, Task> work, Action<Exception> failed, TimeSpan retryDelay, CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            try
            {
                await WaitAsync(token);
                await work(token);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                // The client was closed under us (host shutdown): nothing left to keep up to date.
                return;
            }
            catch (Exception ex)
            {
                failed(ex);
                try
                {
                    await Task.Delay(retryDelay, token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                Set();
            }
        }
    }
}

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
}

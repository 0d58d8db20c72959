using CimAspire.Client;
using CimAspire.Protocol;

namespace CimAspire.Tests.Client;

/// <summary>Records what a client raises and lets a test wait for it, bounded.</summary>
public sealed class ClientProbe
{
    private readonly Lock _lock = new();
    private readonly List<ChatMessage> _messages = [];
    private readonly List<ConnectionState> _states = [];
    private readonly List<(Func<bool> Done, TaskCompletionSource Signal)> _waiters = [];

    public ClientProbe(CimClient client)
    {
        Client = client;
        client.MessageReceived += m => Record(() => _messages.Add(m));
        client.StateChanged += s => Record(() => _states.Add(s));
        client.TypingReceived += t => Record(() => Typing.Add(t));
        client.Kicked += k => Record(() => Kicks.Add(k));
        client.TransientReceived += t => Record(() => Transients.Add(t));
        client.PresenceChanged += p => Record(() => Presence.Add(p));
    }

    public CimClient Client { get; }

    public List<Typing> Typing { get; } = [];

    public List<Kick> Kicks { get; } = [];

    public List<TransientMessage> Transients { get; } = [];

    public List<PresenceChange> Presence { get; } = [];

    public IReadOnlyList<ChatMessage> Messages
    {
        get
        {
            lock (_lock)
            {
                return _messages.ToList();
            }
        }
    }

    public IReadOnlyList<ConnectionState> States
    {
        get
        {
            lock (_lock)
            {
                return _states.ToList();
            }
        }
    }

    public IReadOnlyList<string> Texts => Messages.Select(m => m.Body.ToStringUtf8()).ToList();

    public Task WaitForMessagesAsync(int count, TimeSpan? timeout = null) => WaitAsync(() => _messages.Count >= count, timeout);

    public Task WaitForStateAsync(ConnectionState state, TimeSpan? timeout = null) => WaitAsync(() => _states.Contains(state), timeout);

    public Task WaitAsync(Func<bool> done, TimeSpan? timeout = null)
    {
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (done())
            {
                return Task.CompletedTask;
            }

            _waiters.Add((done, signal));
        }

        return signal.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(10));
    }

    private void Record(Action change)
    {
        lock (_lock)
        {
            change();
            foreach (var waiter in _waiters.Where(w => w.Done()).ToList())
            {
                _waiters.Remove(waiter);
                waiter.Signal.TrySetResult();
            }
        }
    }
}

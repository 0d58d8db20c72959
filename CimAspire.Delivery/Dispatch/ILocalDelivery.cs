using CimAspire.Protocol;

namespace CimAspire.Delivery.Dispatch;

/// <summary>
/// Implemented by a host that holds client connections (the IM server): the dispatcher hands it the deliveries for
/// its own recipients directly instead of through Redis.
/// </summary>
public interface ILocalDelivery
{
    string ServerId { get; }

    /// <summary>Delivers to the connections this server holds; must not block.</summary>
    void Deliver(ServerDelivery delivery);

    /// <summary>
    /// Whether the user is connected here and can be connected nowhere else (one session per user). A transient
    /// notice for such a user skips the route lookup; stored messages always look the route up.
    /// </summary>
    bool HoldsExclusively(long userId) => false;
}

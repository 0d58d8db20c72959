namespace CimAspire.ZooKeeper.Registry;

/// <summary>The live, watched set of registered IM servers, as the route API sees it.</summary>
public interface IServerDirectory
{
    /// <summary>The servers registered right now (a snapshot; never a list from before a known removal).</summary>
    IReadOnlyList<ServerRegistration> Servers { get; }

    /// <summary>Raised after the snapshot changed, with the servers that joined and left.</summary>
    event Action<ServerDirectoryChange>? Changed;
}

public sealed record ServerDirectoryChange(
    IReadOnlyList<ServerRegistration> Joined,
    IReadOnlyList<ServerRegistration> Left);

namespace CimAspire.ZooKeeper;

/// <summary>A ZooKeeper operation failed; <see cref="Code"/> says why (NoNode, NodeExists, ConnectionLoss, ...).</summary>
public sealed class ZooKeeperException : Exception
{
    public ZooKeeperException(ZooKeeperErrorCode code, string? path, string? message = null, Exception? innerException = null)
        : base(message ?? Describe(code, path), innerException)
    {
        Code = code;
        Path = path;
    }

    /// <summary>The KeeperException code.</summary>
    public ZooKeeperErrorCode Code { get; }

    /// <summary>The client path the operation was about, when there is one.</summary>
    public string? Path { get; }

    private static string Describe(ZooKeeperErrorCode code, string? path)
    {
        var name = Enum.IsDefined(code) ? code.ToString() : ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return path is null ? $"ZooKeeper error {name}." : $"ZooKeeper error {name} for {path}.";
    }
}

/// <summary>The server sent something that does not follow the protocol; the connection carrying it is closed.</summary>
public sealed class ZooKeeperProtocolException : Exception
{
    public ZooKeeperProtocolException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

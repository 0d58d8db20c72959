namespace CimAspire.ZooKeeper;

/// <summary>The server's path rules (PathUtils.validatePath), checked before sending so bad input fails with a clear message.</summary>
internal static class PathValidation
{
    public static void Validate(string path, string parameterName, bool sequential = false)
    {
        ArgumentNullException.ThrowIfNull(path, parameterName);
        if (path.Length == 0 || path[0] != '/')
        {
            throw new ArgumentException($"A ZooKeeper path must start with '/': '{path}'.", parameterName);
        }

        if (path.Length == 1)
        {
            return;
        }

        if (path[^1] == '/' && !sequential)
        {
            throw new ArgumentException($"A ZooKeeper path must not end with '/': '{path}'.", parameterName);
        }

        var segments = path[1..].Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            var segment = segments[i];
            var last = i == segments.Length - 1;
            if (segment.Length == 0 && !(last && sequential))
            {
                throw new ArgumentException($"A ZooKeeper path must not contain an empty segment: '{path}'.", parameterName);
            }

            if (segment is "." or "..")
            {
                throw new ArgumentException($"A ZooKeeper path must not contain '.' or '..' segments: '{path}'.", parameterName);
            }
        }

        foreach (var c in path)
        {
            if (c is (> '\u0000' and <= '\u001f') or (>= '\u007f' and <= '\u009f') or (>= '\ud800' and <= '\uf8ff') or (>= '\ufff0' and <= '\uffff') or '\u0000')
            {
                throw new ArgumentException($"A ZooKeeper path contains a character the server rejects (U+{(int)c:X4}): '{path}'.", parameterName);
            }
        }
    }
}

using System.Diagnostics.CodeAnalysis;

namespace Distributed.Gateway.SessionKeys;

/// <summary>The HMAC keys a gateway is configured with (session cookies, JWT bearer tokens): base64 of at least 32 bytes.</summary>
public static class SigningKeys
{
    /// <summary>The fewest bytes a key may have.</summary>
    public const int MinimumBytes = 32;

    /// <summary>Decodes a configured key; false when it is not base64 or shorter than <see cref="MinimumBytes"/>.</summary>
    public static bool TryDecode(string? base64, [NotNullWhen(true)] out byte[]? key)
    {
        key = null;
        if (string.IsNullOrWhiteSpace(base64))
        {
            return false;
        }

        try
        {
            key = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            return false;
        }

        return key.Length >= MinimumBytes;
    }
}

using System.Net;
using System.Net.Sockets;

namespace Distributed.Topology;

/// <summary>Hands out free TCP ports on 127.0.0.1, never the same one twice in a process.</summary>
public static class FreePorts
{
    private static readonly HashSet<int> HandedOut = [];
    private static readonly Lock Gate = new();

    /// <summary><paramref name="count"/> distinct free ports.</summary>
    public static int[] Next(int count = 1)
    {
        var ports = new int[count];
        lock (Gate)
        {
            for (var i = 0; i < count; i++)
            {
                int port;
                do
                {
                    using var listener = new TcpListener(IPAddress.Loopback, 0);
                    listener.Start();
                    port = ((IPEndPoint)listener.LocalEndpoint).Port;
                }
                while (!HandedOut.Add(port));

                ports[i] = port;
            }
        }

        return ports;
    }
}

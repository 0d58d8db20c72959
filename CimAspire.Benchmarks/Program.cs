Console.WriteLine("benchmarks: not built yet");
